"""Point in time, reproducible training, the model store and the decision policy."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.dataset import fingerprint, read_training_set, split_out_of_time, training_rows, write_training_set
from ml.model_store import ModelIntegrityError, load_model, reusable_card, save_model
from ml.scoring import DecisionPolicy, score
from ml.training import TrainingConfig, predict, train_model
from warehouse.database import connect
from warehouse.split import delivery_months

QUICK = TrainingConfig(n_trials=2, tuning_rows=8_000, max_rounds=300, early_stopping_rounds=30)


@pytest.fixture(scope="module")
def history_only_training_set(built_warehouse) -> pd.DataFrame:
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        return training_rows(connection, date(2020, 10, 1))


@pytest.mark.parametrize("month", delivery_months())
def test_training_set_of_month_holds_nothing_from_that_month_or_later(built_warehouse, month):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = training_rows(connection, month)
        delivered_before = connection.execute(
            "select count(*) from raw.applications where target is not null"
            " and (application_month is null or application_month < ?)",
            [month],
        ).fetchone()[0]
        ids_of_month_or_later = {
            row[0] for row in connection.execute(
                "select sk_id_curr from raw.applications where application_month >= ?", [month]
            ).fetchall()
        }
    months = pd.to_datetime(rows["application_month"].dropna()).dt.date
    assert (months < month).all()
    assert not ids_of_month_or_later & set(rows["sk_id_curr"])
    assert len(rows) == delivered_before and rows["target"].notna().all()
    assert rows["is_history"].sum() > 0


def test_out_of_time_validation_is_the_latest_month(built_warehouse):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = training_rows(connection, date(2021, 1, 1))
    train, valid = split_out_of_time(rows)
    assert set(pd.to_datetime(valid["application_month"]).dt.date) == {date(2020, 12, 1)}
    assert pd.to_datetime(train["application_month"].dropna()).max().date() < date(2020, 12, 1)
    history_train, history_valid = split_out_of_time(rows[rows["is_history"]])
    assert history_valid["sk_id_curr"].min() > history_train["sk_id_curr"].max()


def test_training_set_snapshot_round_trips_with_its_fingerprint(built_warehouse, tmp_path):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        summary = write_training_set(connection, date(2020, 11, 1), tmp_path / "2020-11.parquet")
    frame = read_training_set(summary.path)
    assert len(frame) == summary.rows and fingerprint(frame) == summary.fingerprint
    assert summary.latest_month == date(2020, 10, 1)
    changed = frame.copy()
    changed.loc[0, "amt_credit"] += 1
    assert fingerprint(changed) != summary.fingerprint


def test_same_rows_and_config_give_the_same_model(history_only_training_set):
    first = train_model(history_only_training_set, QUICK)
    second = train_model(history_only_training_set, QUICK)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.metrics == second.metrics
    assert first.metrics["validation_auc"] > 0.65, "the generated data carries real signal"
    other_seed = train_model(history_only_training_set, TrainingConfig(**{**QUICK.as_dict(), "seed": 1}))
    assert other_seed.booster.model_to_string() != first.booster.model_to_string()


def test_model_store_round_trip_refuses_a_tampered_model(history_only_training_set, tmp_path):
    trained = train_model(history_only_training_set, QUICK)
    month = date(2020, 10, 1)
    card = save_model(trained, month, "abc123", QUICK, tmp_path)
    booster, loaded = load_model(tmp_path, month)
    assert loaded == card and loaded.feature_names == trained.feature_names
    card_json = json.loads((tmp_path / "2020-10" / "card.json").read_text())
    assert {"params", "metrics", "feature_names", "training_fingerprint", "library_versions", "model_sha256"} <= set(card_json)
    sample = history_only_training_set.head(200)
    assert np.allclose(predict(booster, sample, card.feature_names), predict(trained.booster, sample, trained.feature_names))
    assert reusable_card(tmp_path, month, "abc123", QUICK) == card
    assert reusable_card(tmp_path, month, "other", QUICK) is None
    assert reusable_card(tmp_path, month, "abc123", TrainingConfig(**{**QUICK.as_dict(), "n_trials": 3})) is None
    model_file = tmp_path / "2020-10" / "model.txt"
    model_file.write_text(model_file.read_text().replace("num_leaves=", "num_leaves=1", 1))
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path, month)
    assert reusable_card(tmp_path, month, "abc123", QUICK) is None, "a model that fails its check is trained again"
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.partial"))


def test_decision_policy_grades_and_decides_at_its_thresholds():
    policy = DecisionPolicy(grade_bounds=(0.03, 0.06, 0.10, 0.20), review_from=0.12, decline_from=0.30)
    probabilities = np.array([0.01, 0.03, 0.059, 0.07, 0.119, 0.12, 0.25, 0.30, 0.9])
    assert list(policy.grades(probabilities)) == ["A", "B", "B", "C", "D", "D", "E", "E", "E"]
    assert list(policy.decisions(probabilities)) == [
        "approve", "approve", "approve", "approve", "approve", "review", "review", "decline", "decline"
    ]
    for bad in ({"review_from": 0.4, "decline_from": 0.3}, {"grade_bounds": (0.1, 0.05, 0.2, 0.3)}, {"review_from": 0.0}):
        with pytest.raises(ValueError):
            DecisionPolicy(**bad)


def test_scoring_refuses_rows_without_the_models_features(history_only_training_set):
    trained = train_model(history_only_training_set, QUICK)
    rows = history_only_training_set.head(50)
    scored = score(trained.booster, rows, trained.feature_names, "test")
    assert list(scored.columns) == [
        "sk_id_curr", "application_month", "default_probability", "risk_grade", "decision", "model_version", "scored_at"
    ]
    assert scored["default_probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="lack"):
        score(trained.booster, rows.drop(columns=["ext_source_3"]), trained.feature_names, "test")
