"""A stored model's probabilities for feature rows: what scoring, explaining and gating need of LightGBM.

Apart from `ml.training`, so that scoring a month loads neither Optuna nor the training code.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.calibration import PlattScaling


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The features' values as float32, missing as NaN, in `features` order."""
    numbers = frame.select_dtypes("number")  # the numeric block(s), without copying
    positions = _positions(tuple(numbers.columns), tuple(features))
    if positions is None or not all(isinstance(dtype, np.dtype) for dtype in numbers.dtypes):
        # A feature that is not a number column (pandas converts it, or says which is missing), or a
        # nullable column, which would send the whole conversion through Python objects.
        return frame[features].to_numpy(dtype=np.float32, na_value=np.nan)
    # One conversion of the numeric columns, then the features picked by position: looking 250 names
    # up in a new frame's columns cost more than the model's whole prediction for one application.
    return numbers.to_numpy(dtype=np.float32, na_value=np.nan)[:, positions]


# Where each feature sits among a frame's number columns, per (columns, features): the same for every request online.
_POSITIONS: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray | None] = {}
_NOT_KEPT = object()


def _positions(columns: tuple[str, ...], features: tuple[str, ...]) -> np.ndarray | None:
    key = (columns, features)
    cached = _POSITIONS.get(key, _NOT_KEPT)  # one lookup: another thread may clear the dict meanwhile
    if cached is not _NOT_KEPT:
        return cached
    index = {name: position for position, name in enumerate(columns)}
    found = [index.get(name) for name in features]
    positions = None if None in found or len(index) != len(columns) else np.array(found, dtype=np.intp)
    if len(_POSITIONS) >= 16:
        _POSITIONS.clear()
    _POSITIONS[key] = positions
    return positions


def predict(
    booster: lgb.Booster,
    frame: pd.DataFrame,
    features: list[str],
    calibration: PlattScaling | None = None,
    matrix: np.ndarray | None = None,
) -> np.ndarray:
    """Probabilities of the frame's rows; `matrix` is its feature matrix when the caller has it already."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"rows lack {len(missing)} model features, e.g. {missing[:5]}")
    if matrix is None:
        matrix = feature_matrix(frame, features)
    probabilities = booster.predict(matrix, num_iteration=booster.best_iteration or None)
    return calibration.apply(probabilities) if calibration else probabilities
