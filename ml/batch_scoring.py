"""Scoring rows with a model card: one home for the month's Dagster step, the engines and Spark's executors.

A `BatchScorer` holds what decides (feature names, version, policy, calibration), never the
model. On one machine `score` is given the booster; on Spark's executors `make` builds it
from the model's text, once per partition, and scores its rows exactly as on one machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import lightgbm as lgb
import pandas as pd

from ml.calibration import PlattScaling
from ml.dataset import ID_COLUMN
from ml.explanations import REASON_COUNT
from ml.scoring import DEFAULT_POLICY, DecisionPolicy, score

if TYPE_CHECKING:  # a hint only: Spark's executors need not import the model store
    from ml.model_store import ModelCard


@dataclass(frozen=True)
class BatchScorer:
    feature_names: tuple[str, ...]
    model_version: str
    policy: DecisionPolicy = DEFAULT_POLICY
    calibration: PlattScaling | None = None
    reason_count: int = REASON_COUNT
    # Columns carrying the applicant's raw text values start with this; the rest are the scoring rows.
    value_prefix: str = "applicant__"

    @classmethod
    def from_card(
        cls, card: ModelCard, policy: DecisionPolicy = DEFAULT_POLICY, reason_count: int = REASON_COUNT
    ) -> BatchScorer:
        return cls(tuple(card.feature_names), card.version, policy, card.platt_scaling, reason_count)

    def score(self, booster: lgb.Booster, rows: pd.DataFrame, values: pd.DataFrame | None) -> pd.DataFrame:
        """`ml.scoring.score` of the rows with this model's features, version, policy and calibration."""
        return score(
            booster,
            rows,
            list(self.feature_names),
            self.model_version,
            self.policy,
            self.calibration,
            values,
            reason_count=self.reason_count,
        )

    def make(self, model_text: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
        booster = lgb.Booster(model_str=model_text)

        def score_rows(frame: pd.DataFrame) -> pd.DataFrame:
            value_columns = [name for name in frame.columns if name.startswith(self.value_prefix)]
            values = frame[[ID_COLUMN, *value_columns]].rename(
                columns={name: name.removeprefix(self.value_prefix) for name in value_columns}
            )
            return self.score(booster, frame.drop(columns=value_columns), values)

        return score_rows
