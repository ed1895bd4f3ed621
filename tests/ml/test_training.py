"""Training: the same rows and config give the same model; no protected attribute reaches it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ml.features import excluded_features, source_column
from ml.training import TrainingConfig, train_model
from tests.ml.conftest import PROTECTED_SOURCES, QUICK
from warehouse.fair_lending import require_policy


@pytest.mark.slow  # trains models
def test_same_rows_and_config_give_the_same_model(history_only_training_set):
    first = train_model(history_only_training_set, QUICK)
    second = train_model(history_only_training_set, QUICK)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.metrics == second.metrics
    assert first.metrics["validation_auc"] > 0.65, "the generated data carries real signal"
    other_seed = train_model(history_only_training_set, replace(QUICK, seed=1))
    assert other_seed.booster.model_to_string() != first.booster.model_to_string()


def test_no_protected_attribute_or_feature_computed_from_one_reaches_the_model(history_only_training_set, quick_model):
    assert not {source_column(name) for name in quick_model.feature_names} & PROTECTED_SOURCES
    assert {source_column(name) for name in quick_model.excluded_features} == PROTECTED_SOURCES
    assert quick_model.protected_attributes == ("CODE_GENDER", "NAME_FAMILY_STATUS")
    # A derived feature goes with what it is computed from: protecting age removes the employed-to-age ratio too.
    candidates = ["days_birth", "employed_to_age_ratio", "amt_credit", "code_gender__f"]
    assert excluded_features(candidates, ("DAYS_BIRTH",)) == ["days_birth", "employed_to_age_ratio"]
    with pytest.raises(ValueError, match="unknown"):
        TrainingConfig(protected_attributes=("NOT_A_COLUMN",))
    # The launchpad may protect more than the policy, never fewer.
    assert require_policy(["code_gender", "NAME_FAMILY_STATUS", "NAME_TYPE_SUITE"])[-1] == "NAME_TYPE_SUITE"
    with pytest.raises(ValueError, match="never fewer"):
        require_policy(["CODE_GENDER"])
