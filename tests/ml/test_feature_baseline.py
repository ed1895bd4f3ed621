"""The drift reference a model is trained with: each feature binned over its training set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.feature_baseline import CATEGORICAL, NUMERIC, feature_baselines
from ml.training_data import TrainingData


def _baselines(frame: pd.DataFrame) -> dict:
    data = TrainingData.from_frame(frame)
    return {baseline.feature: baseline for baseline in feature_baselines(data.feature_names, data.column)}


def test_numeric_bins_are_the_deciles_with_missing_values_apart():
    values = [float(value) for value in range(1, 101)] + [np.nan] * 10
    [baseline] = _baselines(pd.DataFrame({"sk_id_curr": range(110), "amt_credit": values})).values()
    assert baseline.kind == NUMERIC and baseline.rows == 110
    assert baseline.cuts == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0], "values of the data, not between"
    assert baseline.bins == [str(index) for index in range(10)] + ["missing"]
    # Bin i holds (cuts[i-1], cuts[i]]: 1..10, 11..20, ..., 91..100, then the ten missing.
    assert baseline.shares == pytest.approx([10 / 110] * 11)


def test_a_feature_with_few_values_gets_fewer_bins_never_empty_duplicates():
    flags = [0] * 70 + [1] * 30
    [baseline] = _baselines(pd.DataFrame({"sk_id_curr": range(100), "flag_own_car": flags})).values()
    assert baseline.cuts == [0.0, 1.0]
    assert baseline.bins == ["0", "1", "2", "missing"]
    assert baseline.shares == pytest.approx([0.7, 0.3, 0.0, 0.0])


def test_a_feature_never_known_is_all_missing():
    [baseline] = _baselines(pd.DataFrame({"sk_id_curr": range(4), "own_car_age": [np.nan] * 4})).values()
    assert baseline.cuts == [] and baseline.bins == ["0", "missing"] and baseline.shares == [0.0, 1.0]


def test_a_categorical_column_is_binned_by_its_one_hot_columns_and_missing():
    frame = pd.DataFrame(
        {
            "sk_id_curr": range(10),
            "name_housing_type__house_apartment": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
            "name_housing_type__with_parents": [0, 0, 0, 0, 0, 1, 1, 0, 0, 0],
            "name_housing_type__unseen": [0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
            "amt_income_total": [1.0] * 10,
        }
    )
    baselines = _baselines(frame)
    assert set(baselines) == {"name_housing_type", "amt_income_total"}, "one baseline per source column"
    housing = baselines["name_housing_type"]
    assert housing.kind == CATEGORICAL and housing.cuts is None and housing.rows == 10
    assert housing.bins == ["house_apartment", "with_parents", "unseen", "missing"]
    assert housing.shares == pytest.approx([0.5, 0.2, 0.1, 0.2])


def test_large_whole_numbers_keep_their_exact_values():
    """Cuts are compared with the mart's values in SQL: a float32 copy would move them."""
    odd = 16_777_217 + 2 * np.arange(20, dtype=np.int64)  # above 2^24: float32 would round each to even
    [baseline] = _baselines(pd.DataFrame({"sk_id_curr": range(20), "days_id": odd})).values()
    assert baseline.cuts[0] == 16_777_219.0 and baseline.shares[:10] == pytest.approx([0.1] * 10)
