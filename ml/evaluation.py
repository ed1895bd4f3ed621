"""Metrics of a scored month."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def auc(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> float:
    """ROC AUC, or NaN when the labels hold only one class (AUC is undefined there)."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, probabilities))
