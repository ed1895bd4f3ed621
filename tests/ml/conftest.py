"""Shared by the model tests: the history-only training set, a quickly tuned model and November scored by it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ml.dataset import applicant_values, scoring_rows, training_rows
from ml.scoring import score
from ml.training import TrainingConfig, train_model
from warehouse.database import connect

# The source columns of the default protected attributes (dbt_project.yml vars).
PROTECTED_SOURCES = {"code_gender", "name_family_status"}
QUICK = TrainingConfig(n_trials=2, tuning_rows=8_000, max_rounds=300, early_stopping_rounds=30)


@pytest.fixture(scope="package")
def history_only_training_set(built_warehouse) -> pd.DataFrame:
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        return training_rows(connection, date(2020, 10, 1))


@pytest.fixture(scope="package")
def quick_model(history_only_training_set):
    return train_model(history_only_training_set, QUICK)


@pytest.fixture(scope="package")
def november_scored(built_warehouse, quick_model):
    """November's applications scored by the history-only model, with their raw values and contributions."""
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = scoring_rows(connection, date(2020, 11, 1))
        values = applicant_values(connection, month=date(2020, 11, 1))
    scored = score(quick_model.booster, rows, quick_model.feature_names, "test", applicant_values=values)
    return rows, values, scored
