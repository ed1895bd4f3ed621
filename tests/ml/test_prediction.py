"""The feature matrix: the features' values as float32 in the model's order, whatever the frame's layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import prediction
from ml.prediction import feature_matrix


def _pandas_conversion(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    return frame[features].to_numpy(dtype=np.float32, na_value=np.nan)


def test_the_matrix_is_pandas_conversion_of_the_features_in_their_order():
    frame = pd.DataFrame(
        {
            "sk_id_curr": [1, 2, 3],
            "month": pd.to_datetime(["2020-10-01"] * 3),
            "amt_credit": [1.5, np.nan, 3.25],
            "cnt_children": pd.array([0, None, 2], dtype="Int64"),
            "flag": [1, 0, 1],
            "name": ["a", None, "c"],
            "ratio": np.array([0.1, 0.2, np.nan], dtype=np.float32),
        }
    )
    features = ["ratio", "flag", "amt_credit", "cnt_children"]  # not the frame's order, some columns left out
    matrix = feature_matrix(frame, features)
    expected = _pandas_conversion(frame, features)
    assert matrix.dtype == np.float32 and matrix.shape == (3, 4)
    np.testing.assert_array_equal(matrix, expected)  # NaN where pandas has NaN or NA
    # The same frame asked again (the cached positions) and a frame with the columns moved give the same.
    np.testing.assert_array_equal(feature_matrix(frame, features), expected)
    moved = frame[list(reversed(frame.columns))]
    np.testing.assert_array_equal(feature_matrix(moved, features), expected)


def test_a_frame_of_numpy_columns_is_read_by_the_kept_positions():
    """The layout the service and the batch have: numbers, with other columns and non-features among them."""
    generator = np.random.default_rng(5)
    frame = pd.DataFrame(generator.normal(size=(4, 6)), columns=[f"x{i}" for i in range(6)])
    frame.iloc[1, 2] = np.nan
    frame.insert(0, "sk_id_curr", np.arange(4))
    frame.insert(3, "month", pd.to_datetime(["2020-10-01"] * 4))
    frame.insert(5, "delivery", ["a.csv"] * 4)
    features = ["x4", "x0", "x2", "sk_id_curr"]
    prediction._POSITIONS.clear()
    matrix = feature_matrix(frame, features)
    np.testing.assert_array_equal(matrix, _pandas_conversion(frame, features))
    [positions] = prediction._POSITIONS.values()
    assert positions is not None, "read by position, not through pandas"
    np.testing.assert_array_equal(feature_matrix(frame, features), matrix)


def test_a_feature_that_is_not_a_number_column_is_converted_or_refused_as_pandas_does():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [True, False], "c": ["1.5", "x"]})
    np.testing.assert_array_equal(feature_matrix(frame, ["b", "a"]), np.array([[1, 1], [0, 2]], dtype=np.float32))
    with pytest.raises(KeyError):
        feature_matrix(frame, ["a", "missing"])
    with pytest.raises(ValueError):
        feature_matrix(frame, ["c"])


def test_a_frame_with_a_repeated_column_name_takes_pandas_way():
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["a", "a", "b"])
    np.testing.assert_array_equal(feature_matrix(frame, ["b"]), _pandas_conversion(frame, ["b"]))
