"""Default probability, risk grade, decision and reasons for each application of a month."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.calibration import PlattScaling
from ml.dataset import ID_COLUMN, MONTH_COLUMN
from ml.explanations import REASON_COUNT, reason_columns
from ml.features import FeatureCatalog
from ml.prediction import feature_matrix, predict

RISK_GRADES = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class DecisionPolicy:
    """Probability cut-offs. Grades A–E split at `grade_bounds`; decisions at the two thresholds."""

    grade_bounds: tuple[float, float, float, float] = (0.03, 0.06, 0.10, 0.20)
    review_from: float = 0.12
    decline_from: float = 0.30

    def __post_init__(self) -> None:
        bounds = list(self.grade_bounds)
        if len(bounds) != 4 or bounds != sorted(bounds) or not all(0 < b < 1 for b in bounds):
            raise ValueError(f"grade_bounds must be four increasing probabilities, got {self.grade_bounds}")
        if not 0 < self.review_from <= self.decline_from <= 1:
            raise ValueError(
                f"need 0 < review_from <= decline_from <= 1, got {self.review_from} and {self.decline_from}"
            )

    def grades(self, probabilities: np.ndarray) -> np.ndarray:
        return np.array(RISK_GRADES)[np.searchsorted(self.grade_bounds, probabilities, side="right")]

    def decisions(self, probabilities: np.ndarray) -> np.ndarray:
        return np.where(
            probabilities >= self.decline_from,
            "decline",
            np.where(probabilities >= self.review_from, "review", "approve"),
        )


# The default policy, shared: DecisionPolicy is frozen, so one instance serves every default argument.
DEFAULT_POLICY = DecisionPolicy()


def score(*args, **kwargs) -> pd.DataFrame:
    """Probability, grade, decision and reasons of every row, with the model version and the policy that decided.

    The frame of `scored_columns`, which takes the same arguments.
    """
    return pd.DataFrame(scored_columns(*args, **kwargs))


def scored_columns(
    booster: lgb.Booster,
    rows: pd.DataFrame,
    feature_names: list[str],
    model_version: str,
    policy: DecisionPolicy = DEFAULT_POLICY,
    calibration: PlattScaling | None = None,
    applicant_values: pd.DataFrame | None = None,
    catalog: FeatureCatalog | None = None,
    reason_count: int = REASON_COUNT,
    timings: dict[str, float] | None = None,
) -> dict[str, object]:
    """Probability, grade, decision and reasons of every row as columns; `score` makes its frame of them.

    The online service answers from the columns: for one application, building the frame costs
    more than the model. `timings`, if given, receives the seconds spent on the model's
    probabilities and on the reasons.
    """
    started = time.perf_counter()
    # Built once, for the probabilities and their contributions; `predict` says which features are missing.
    matrix = feature_matrix(rows, feature_names) if set(feature_names) <= set(rows.columns) else None
    probabilities = predict(booster, rows, feature_names, calibration, matrix)
    predicted = time.perf_counter()
    reasons = reason_columns(booster, rows, feature_names, applicant_values, catalog, reason_count, matrix)
    if timings is not None:
        timings["model"], timings["reasons"] = predicted - started, time.perf_counter() - predicted
    return {
        ID_COLUMN: rows[ID_COLUMN].to_numpy(),
        MONTH_COLUMN: pd.to_datetime(rows[MONTH_COLUMN]).dt.date.to_numpy(),
        "default_probability": probabilities,
        "risk_grade": policy.grades(probabilities),
        "decision": policy.decisions(probabilities),
        **reasons,
        "model_version": model_version,
        "review_from": policy.review_from,
        "decline_from": policy.decline_from,
        "scored_at": datetime.now(UTC).replace(tzinfo=None),
    }


# `score` takes `scored_columns`' arguments: help() and editors show them.
score.__signature__ = inspect.signature(scored_columns).replace(return_annotation=pd.DataFrame)
