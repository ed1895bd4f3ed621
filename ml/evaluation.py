"""Metrics of scored rows with known outcomes: AUC, KS, Brier, and the tables behind the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, precision_recall_curve, roc_auc_score, roc_curve

DECILES = 10


def _both_classes(labels: np.ndarray) -> bool:
    return len(np.unique(labels)) == 2


def auc(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> float:
    """ROC AUC, or NaN when the labels hold only one class (AUC is undefined there)."""
    labels = np.asarray(labels)
    if not _both_classes(labels):
        return float("nan")
    return float(roc_auc_score(labels, probabilities))


def ks(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score distributions of defaulters and the rest."""
    labels = np.asarray(labels)
    if not _both_classes(labels):
        return float("nan")
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, probabilities)
    return float(np.max(true_positive_rate - false_positive_rate))


def brier(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> float:
    return float(brier_score_loss(np.asarray(labels), probabilities))


def summary(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> dict:
    labels = np.asarray(labels)
    return {
        "auc": round(auc(labels, probabilities), 6),
        "ks": round(ks(labels, probabilities), 6),
        "brier": round(brier(labels, probabilities), 6),
        "rows": int(len(labels)),
        "default_rate": round(float(labels.mean()), 6),
    }


def decile_table(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """Rows split into ten equal groups by score, riskiest first: default rate, lift and cumulative capture."""
    frame = pd.DataFrame({"label": np.asarray(labels), "probability": np.asarray(probabilities)})
    # Rank first, so ties cannot make groups of unequal size.
    order = frame["probability"].rank(method="first", ascending=False)
    frame["decile"] = np.ceil(order / len(frame) * DECILES).astype(int).clip(1, DECILES)
    table = frame.groupby("decile").agg(
        rows=("label", "size"), defaults=("label", "sum"), mean_probability=("probability", "mean")
    )
    overall = frame["label"].mean()
    table["default_rate"] = table["defaults"] / table["rows"]
    table["lift"] = table["default_rate"] / overall if overall else np.nan
    table["captured"] = table["defaults"].cumsum() / max(frame["label"].sum(), 1)
    return table.reset_index()


def curves(labels: pd.Series | np.ndarray, probabilities: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    labels = np.asarray(labels)
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, probabilities)
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    return {"roc": (false_positive_rate, true_positive_rate), "precision_recall": (recall, precision)}
