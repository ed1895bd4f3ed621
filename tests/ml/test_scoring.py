"""Scoring: the decision policy's grades and decisions, rows without the model's features refused."""

from __future__ import annotations

import numpy as np
import pytest

from ml.scoring import DecisionPolicy, score
from warehouse.publishing.predictions_table import PREDICTION_COLUMNS


def test_decision_policy_grades_and_decides_at_its_thresholds():
    policy = DecisionPolicy(grade_bounds=(0.03, 0.06, 0.10, 0.20), review_from=0.12, decline_from=0.30)
    probabilities = np.array([0.01, 0.03, 0.059, 0.07, 0.119, 0.12, 0.25, 0.30, 0.9])
    assert list(policy.grades(probabilities)) == ["A", "B", "B", "C", "D", "D", "E", "E", "E"]
    assert list(policy.decisions(probabilities)) == [
        "approve",
        "approve",
        "approve",
        "approve",
        "approve",
        "review",
        "review",
        "decline",
        "decline",
    ]
    for bad in (
        {"review_from": 0.4, "decline_from": 0.3},
        {"grade_bounds": (0.1, 0.05, 0.2, 0.3)},
        {"review_from": 0.0},
    ):
        with pytest.raises(ValueError):
            DecisionPolicy(**bad)


def test_scoring_refuses_rows_without_the_models_features(history_only_training_set, quick_model):
    trained = quick_model
    rows = history_only_training_set.head(50)
    scored = score(trained.booster, rows, trained.feature_names, "test")
    assert list(scored.columns) == list(PREDICTION_COLUMNS)
    assert scored["default_probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="lack"):
        score(trained.booster, rows.drop(columns=["ext_source_3"]), trained.feature_names, "test")
