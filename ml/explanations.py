"""Reason codes: the features that pushed an applicant's risk up most.

They come from LightGBM's own per-row contributions (`pred_contrib`, TreeSHAP): for each
row, the contributions of all features plus a bias add up to the model's raw score
(log-odds). The reasons are the features with the largest positive contributions, and
never a feature whose value is missing for that applicant: "your external score" is not
a reason to give someone who has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.training import feature_matrix

REASON_COUNT = 3

_ONE_HOT_DESCRIPTION = re.compile(r"^1 when (\w+) is the level '(.*)'\.?$")
_UNSEEN_DESCRIPTION = re.compile(r"^1 when (\w+) holds a value outside the fixed level list")


def _contributions_of(booster: lgb.Booster, matrix: np.ndarray) -> np.ndarray:
    return booster.predict(matrix, num_iteration=booster.best_iteration or None, pred_contrib=True)


def contributions(booster: lgb.Booster, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Per row: each feature's contribution to the log-odds, then the bias in the last column."""
    return _contributions_of(booster, feature_matrix(frame, features))


def top_reasons(
    contribution: np.ndarray, values: np.ndarray, features: list[str], count: int = REASON_COUNT
) -> np.ndarray:
    """The `count` features with the largest positive contribution per row, present values only; None past the last."""
    pushes_up = contribution[:, : len(features)].astype(float)
    pushes_up[np.isnan(values) | (pushes_up <= 0)] = -np.inf
    order = np.argsort(-pushes_up, axis=1, kind="stable")[:, :count]
    names = np.array(features, dtype=object)[order]
    names[np.take_along_axis(pushes_up, order, axis=1) == -np.inf] = None
    return names


def readable_label(feature: str, description: str | None) -> str:
    """A short label from the feature mart's column description (dbt), for people reading a decision."""
    if not description:
        return feature
    text = description.strip()
    one_hot = _ONE_HOT_DESCRIPTION.match(text)
    if one_hot:
        return f"{one_hot.group(1)} is {one_hot.group(2)}"
    unseen = _UNSEEN_DESCRIPTION.match(text)
    if unseen:
        return f"{unseen.group(1)} has a value never seen before"
    return text.rstrip(".")


def reason_columns(
    booster: lgb.Booster,
    frame: pd.DataFrame,
    features: list[str],
    descriptions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """`reason_code_1..3` (feature names) and `reason_1..3` (readable labels) for every row of `frame`."""
    matrix = feature_matrix(frame, features)
    names = top_reasons(_contributions_of(booster, matrix), matrix, features)
    descriptions = descriptions or {}
    columns = {}
    for position in range(REASON_COUNT):
        codes = names[:, position]
        columns[f"reason_code_{position + 1}"] = codes
        columns[f"reason_{position + 1}"] = [
            None if code is None else readable_label(code, descriptions.get(code)) for code in codes
        ]
    ordered = [f"reason_code_{i}" for i in range(1, REASON_COUNT + 1)] + [f"reason_{i}" for i in range(1, REASON_COUNT + 1)]
    return pd.DataFrame(columns, index=frame.index)[ordered]
