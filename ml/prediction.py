"""A stored model's probabilities for feature rows: what scoring, explaining and gating need of LightGBM.

Apart from `ml.training`, so that scoring a month loads neither Optuna nor the training code.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.calibration import PlattScaling


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    return frame[features].to_numpy(dtype=np.float32, na_value=np.nan)


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
