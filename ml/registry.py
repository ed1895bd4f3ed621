"""The model registry (`marts.model_registry`) and the champion/challenger rule.

Each model a month's run trains is registered once, by version. It becomes the champion
only if its validation AUC is not worse than the current champion's AUC on the same
validation rows by more than `tolerance`; otherwise the champion keeps scoring and the
reason is recorded. "The champion as of month M" is the latest promoted model trained for
M or an earlier month, so re-running an old month scores with the model it had then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from ml.dataset import LABEL_COLUMN, MONTH_COLUMN
from ml.evaluation import auc
from ml.model_store import ModelCard, load_model
from ml.training import predict
from warehouse.database import transaction

CHAMPION = "champion"  # scores its month and later ones until a better model is promoted
RETIRED = "retired"  # was champion; a later model replaced it
REJECTED = "rejected"  # lost to the champion on the same validation rows
SUPERSEDED = "superseded"  # its month was trained again (new training rows or config)

DEFAULT_TOLERANCE = 0.005


@dataclass(frozen=True)
class Promotion:
    promote: bool
    reason: str
    champion_version: str | None = None
    champion_validation_auc: float | None = None


def decide(challenger_auc: float, champion_auc: float, tolerance: float) -> tuple[bool, str]:
    """Promote unless the challenger is worse than the champion by more than `tolerance`."""
    difference = challenger_auc - champion_auc
    if difference >= -tolerance:
        return True, f"validation AUC {challenger_auc:.4f} vs champion {champion_auc:.4f} (difference {difference:+.4f}, tolerance {tolerance})"
    return False, (
        f"validation AUC {challenger_auc:.4f} is {-difference:.4f} below the champion's {champion_auc:.4f} "
        f"on the same rows, more than the tolerance {tolerance}: the champion keeps scoring"
    )


def registered(connection: duckdb.DuckDBPyConnection, version: str) -> dict | None:
    rows = connection.execute(
        "select version, status, decision_reason from marts.model_registry where version = ?", [version]
    ).fetchall()
    return dict(zip(("version", "status", "decision_reason"), rows[0])) if rows else None


def champion_as_of(connection: duckdb.DuckDBPyConnection, month: date) -> tuple[str, date] | None:
    """(version, training month) of the model that scores `month`."""
    # fetchall, not fetchone: an unfinished result would block the next query on this connection.
    rows = connection.execute(
        """
        select version, training_month from marts.model_registry
        where status in (?, ?) and training_month <= ?
        order by training_month desc, registered_at desc limit 1
        """,
        [CHAMPION, RETIRED, month],
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def challenge(
    connection: duckdb.DuckDBPyConnection, card: ModelCard, validation: pd.DataFrame, models_root: Path, tolerance: float
) -> Promotion:
    """Compare a new model with the champion before its month on the new model's validation rows."""
    month = date.fromisoformat(f"{card.month}-01")
    previous = champion_as_of(connection, month - timedelta(days=1))
    if previous is None:
        return Promotion(True, "the first model: nothing to compare with")
    champion_version, champion_month = previous
    booster, champion_card = load_model(models_root, champion_month)
    if champion_card.version != champion_version:
        return Promotion(True, f"champion {champion_version} is no longer on disk: promoted", champion_version)
    if not set(champion_card.feature_names) <= set(validation.columns):
        return Promotion(True, f"champion {champion_version} reads features the mart no longer has: promoted", champion_version)
    champion_auc = auc(validation[LABEL_COLUMN], predict(booster, validation, champion_card.feature_names))
    promote, reason = decide(card.metrics["validation_auc"], champion_auc, tolerance)
    return Promotion(promote, reason, champion_version, round(champion_auc, 6))


def _score_bins(card: ModelCard) -> tuple[list[float] | None, list[float] | None]:
    """Upper bounds (the top bin has none) and training-window shares of the model's score bins."""
    if not card.score_baseline:
        return None, None
    return card.score_baseline["cuts"], card.score_baseline["shares"]


def register(
    connection: duckdb.DuckDBPyConnection, card: ModelCard, validation: pd.DataFrame, models_root: Path, tolerance: float
) -> dict:
    """Register `card` once: challenge the champion, record the decision; a second call returns the first decision."""
    existing = registered(connection, card.version)
    if existing and existing["status"] != SUPERSEDED:
        return existing
    # A superseded model trained again (its month's rows went back to what they were) is challenged anew.
    promotion = challenge(connection, card, validation, models_root, tolerance)
    month = date.fromisoformat(f"{card.month}-01")
    validation_months = pd.to_datetime(validation[MONTH_COLUMN].dropna()).dt.date.unique()
    status = CHAMPION if promotion.promote else REJECTED
    with transaction(connection):
        connection.execute("delete from marts.model_registry where version = ?", [card.version])
        connection.execute(
            "update marts.model_registry set status = ? where training_month = ? and status <> ?",
            [SUPERSEDED, month, SUPERSEDED],
        )
        if promotion.promote:
            connection.execute(
                "update marts.model_registry set status = ? where status = ? and training_month < ?",
                [RETIRED, CHAMPION, month],
            )
        connection.execute(
            "insert into marts.model_registry values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                card.version,
                month,
                validation_months[0] if len(validation_months) == 1 else None,
                json.dumps(card.params, sort_keys=True),
                card.metrics["validation_auc"],
                promotion.champion_version,
                promotion.champion_validation_auc,
                card.training_fingerprint,
                card.model_sha256,
                status,
                promotion.reason,
                datetime.now(timezone.utc).replace(tzinfo=None),
                *_score_bins(card),
            ],
        )
    return {"version": card.version, "status": status, "decision_reason": promotion.reason}
