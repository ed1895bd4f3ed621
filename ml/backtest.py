"""Rolling out-of-time evaluation: every scored month against the outcomes known today.

Month M's predictions come from the champion as of M, trained only on rows delivered before
M (`ml.dataset`), so `scoring.predictions` joined to today's labels *is* a rolling
out-of-time backtest of what production decided. Beside each month: the ceiling, the AUC
of the generator's true probabilities without their sex term on the same rows, when the files
were generated (the model may not use sex, so that is the best it could do; the true
probabilities with it are shown too).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from ml import evaluation
from warehouse.ingestion.delivery_names import month_file_name
from warehouse.publishing.predictions_table import monthly_summary, scored_with_labels
from warehouse.sample_data.splitter import TRUE_PROBABILITY, TRUE_PROBABILITY_WITHOUT_SEX


@dataclass(frozen=True)
class MonthFigures:
    month: date
    rows_scored: int
    labelled_rows: int
    default_rate: float
    auc: float
    ks: float
    brier: float
    ceiling_auc: float  # of the true probabilities without their sex term; NaN without true scores
    model_version: str
    ceiling_with_sex_auc: float = math.nan

    @property
    def share_of_ceiling(self) -> float:
        return math.nan if math.isnan(self.ceiling_auc) else self.auc / self.ceiling_auc

    def as_dict(self) -> dict:
        return {**asdict(self), "month": f"{self.month:%Y-%m}", "share_of_ceiling": self.share_of_ceiling}


def true_probabilities(true_scores_dir: Path | None, month: date) -> pd.DataFrame | None:
    """The generator's probabilities for a month's file (sk_id_curr, true_probability), if written."""
    if true_scores_dir is None:
        return None
    path = true_scores_dir / month_file_name(month)
    if not path.exists():
        return None
    frame = pd.read_csv(path).rename(columns={"SK_ID_CURR": "sk_id_curr", TRUE_PROBABILITY: "true_probability"})
    # Files written before the sex term was split out: their ceiling is the full true probability.
    frame["fair_probability"] = (
        frame.pop(TRUE_PROBABILITY_WITHOUT_SEX) if TRUE_PROBABILITY_WITHOUT_SEX in frame else frame["true_probability"]
    )
    return frame


def backtest(connection: duckdb.DuckDBPyConnection, true_scores_dir: Path | None = None) -> list[MonthFigures]:
    figures = []
    for row in monthly_summary(connection).itertuples():
        scored = scored_with_labels(connection, row.application_month).dropna(subset=["target"])
        labels, probabilities = scored["target"].to_numpy(), scored["default_probability"].to_numpy()
        ceiling = ceiling_with_sex = math.nan
        truth = true_probabilities(true_scores_dir, row.application_month)
        if truth is not None and len(scored):
            joined = scored.merge(truth, on="sk_id_curr", how="inner")
            if len(joined) == len(scored):
                ceiling = evaluation.auc(joined["target"], joined["fair_probability"].to_numpy())
                ceiling_with_sex = evaluation.auc(joined["target"], joined["true_probability"].to_numpy())
        has_labels = len(scored) > 0
        figures.append(
            MonthFigures(
                month=row.application_month,
                rows_scored=int(row.rows_scored),
                labelled_rows=len(scored),
                default_rate=float(labels.mean()) if has_labels else math.nan,
                auc=evaluation.auc(labels, probabilities),
                ks=evaluation.ks(labels, probabilities),
                brier=evaluation.brier(labels, probabilities) if has_labels else math.nan,
                ceiling_auc=ceiling,
                model_version=row.model_version,
                ceiling_with_sex_auc=ceiling_with_sex,
            )
        )
    return figures


def _number(value: float, width: int, digits: int = 4) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}f}"


def format_table(figures: list[MonthFigures]) -> str:
    lines = [
        f"{'month':<8} {'scored':>7} {'labelled':>8} {'default':>8} {'AUC':>7} {'KS':>7} {'Brier':>7} "
        f"{'ceiling':>8} {'of ceil.':>8} {'with sex':>8}  model"
    ]
    for f in figures:
        lines.append(
            f"{f.month:%Y-%m}  {f.rows_scored:>7,} {f.labelled_rows:>8,} {_number(f.default_rate, 8)} "
            f"{_number(f.auc, 7)} {_number(f.ks, 7)} {_number(f.brier, 7)} {_number(f.ceiling_auc, 8)} "
            f"{_number(f.share_of_ceiling, 8, 3)} {_number(f.ceiling_with_sex_auc, 8)}  {f.model_version}"
        )
    return "\n".join(lines)
