"""The model store: every version kept, a tampered model refused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from ml.model_store import ModelIntegrityError, load_model, month_cards, read_card, reusable_card, save_model
from ml.prediction import predict
from ml.training import train_model
from tests.ml.conftest import QUICK


@pytest.mark.slow  # trains models
def test_model_store_keeps_every_version_and_refuses_a_tampered_model(history_only_training_set, tmp_path):
    trained = train_model(history_only_training_set, QUICK)
    month = date(2020, 10, 1)
    card = save_model(trained, month, "abc123", QUICK, tmp_path)
    booster, loaded = load_model(tmp_path, card.version)
    assert loaded == card and loaded.feature_names == trained.feature_names
    folder = tmp_path / card.version
    card_json = json.loads((folder / "card.json").read_text())
    assert {
        "params",
        "metrics",
        "feature_names",
        "training_fingerprint",
        "library_versions",
        "model_sha256",
        "windows",
        "protected_attributes",
        "excluded_features",
    } <= set(card_json)
    assert card_json["protected_attributes"] == ["CODE_GENDER", "NAME_FAMILY_STATUS"]
    # The card says what each phase of the training cost, for `make bench` and the UI.
    assert list(card_json["timings"]) == ["tuning", "early_stopped_fit", "validation_fit", "refit", "drift_baseline"]
    assert {baseline["kind"] for baseline in card_json["feature_baseline"]} == {"numeric", "categorical"}
    assert all(seconds > 0 for seconds in card_json["timings"].values())
    sample = history_only_training_set.head(200)
    assert np.allclose(
        predict(booster, sample, card.feature_names), predict(trained.booster, sample, trained.feature_names)
    )
    assert reusable_card(tmp_path, month, "abc123", QUICK) == card
    assert reusable_card(tmp_path, month, "other", QUICK) is None
    assert reusable_card(tmp_path, month, "abc123", replace(QUICK, n_trials=3)) is None

    # The month trained again (another seed): a new version beside the old one, which still loads.
    retrained = save_model(
        train_model(history_only_training_set, replace(QUICK, seed=1)),
        month,
        "abc123",
        replace(QUICK, seed=1),
        tmp_path,
    )
    assert retrained.version != card.version
    assert [c.version for c in month_cards(tmp_path, month)] == sorted(
        [retrained.version, card.version], key=lambda v: v != retrained.version
    )
    assert load_model(tmp_path, card.version)[1] == card and load_model(tmp_path, retrained.version)[1] == retrained

    model_file = folder / "model.txt"
    model_file.write_text(model_file.read_text().replace("num_leaves=", "num_leaves=1", 1))
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path, card.version)
    assert reusable_card(tmp_path, month, "abc123", QUICK) is None, "a model that fails its check is trained again"
    with pytest.raises(ValueError, match="not a model version"):
        read_card(tmp_path, "../2020-10")
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.partial"))
