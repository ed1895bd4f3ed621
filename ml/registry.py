"""The model registry (`scoring.model_registry`) and the champion/challenger rule.

Each model a month's run trains is registered once, by version, and compared with the
champion that scored before its month, on the challenger's validation window: labelled
rows that neither the champion nor the challenger's validation model was fitted on and no
choice of either was made on (every window on both cards is checked for overlap). There the
challenger becomes the champion unless its AUC is worse than the champion's by more than
`tolerance`; otherwise it is `rejected`. When no such rows exist (the champion was fitted on
the challenger's validation window), the challenger is `pending` and the champion keeps
scoring. Each decision records its reason and the swap set on those rows.

Which model scores a month ("the champion as of month M") is `ml.champion.champion_as_of`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ml.champion import CHAMPION, PENDING, REJECTED, RETIRED, SUPERSEDED, champion_as_of
from ml.dataset import LABEL_COLUMN, file_fingerprint
from ml.evaluation import auc
from ml.feature_baseline import feature_baselines
from ml.model_store import ModelCard, load_model, model_dir, read_card
from ml.prediction import predict
from ml.scoring import DEFAULT_POLICY, DecisionPolicy
from ml.swap_set import describe as describe_swap_set
from ml.swap_set import swap_set
from ml.training_data import TrainingData
from ml.windows import Window
from warehouse.database import transaction

DEFAULT_TOLERANCE = 0.005


@dataclass(frozen=True)
class Promotion:
    status: str
    reason: str
    champion_version: str | None = None
    champion_validation_auc: float | None = None
    swap_set: dict | None = None


def decide(challenger_auc: float, champion_auc: float, tolerance: float) -> tuple[bool, str]:
    """Promote unless the challenger is worse than the champion by more than `tolerance`."""
    difference = challenger_auc - champion_auc
    if difference >= -tolerance:
        return (
            True,
            f"validation AUC {challenger_auc:.4f} vs champion {champion_auc:.4f} "
            f"(difference {difference:+.4f}, tolerance {tolerance})",
        )
    return False, (
        f"validation AUC {challenger_auc:.4f} is {-difference:.4f} below the champion's {champion_auc:.4f} "
        f"on the same rows, more than the tolerance {tolerance}: the champion keeps scoring"
    )


def registered(connection: duckdb.DuckDBPyConnection, version: str) -> dict | None:
    rows = connection.execute(
        "select version, status, decision_reason from scoring.model_registry where version = ?", [version]
    ).fetchall()
    return dict(zip(("version", "status", "decision_reason"), rows[0], strict=True)) if rows else None


def card_windows(card: ModelCard) -> list[Window]:
    return [Window.from_dict(window) for window in card.windows or []]


def validation_window(card: ModelCard) -> Window:
    [window] = [window for window in card_windows(card) if window.name == "validation"]
    return window


def comparable(champion: ModelCard, challenger: ModelCard) -> str | None:
    """None when the challenger's validation window is untouched by every window of the champion; else why not."""
    target = validation_window(challenger)
    windows = card_windows(champion)
    if not windows:
        return f"the card of {champion.version} names no windows, so its untouched rows are unknown"
    for window in windows:
        if window.overlaps(target):
            return (
                f"{champion.version}'s {window.name} window ({window.describe()}) overlaps the validation window "
                f"({target.describe()})"
            )
    return None


def challenge(
    connection: duckdb.DuckDBPyConnection,
    card: ModelCard,
    validation_rows: pd.DataFrame,
    challenger_probabilities: np.ndarray,
    models_root: Path,
    tolerance: float,
    policy: DecisionPolicy = DEFAULT_POLICY,
) -> Promotion:
    """Compare a new model with the champion before its month on the new model's validation window."""
    previous = champion_as_of(connection, card.training_month - timedelta(days=1))
    if previous is None:
        return Promotion(CHAMPION, "the first model: nothing to compare with")
    champion_version = previous.version
    booster, champion_card = load_model(models_root, champion_version)
    overlap = comparable(champion_card, card)
    if overlap:
        return Promotion(
            PENDING,
            f"no labelled rows that neither model was fitted or chose on: {overlap}; "
            f"the challenger waits and {champion_version} keeps scoring",
            champion_version,
        )
    if not set(champion_card.feature_names) <= set(validation_rows.columns):
        return Promotion(
            PENDING,
            f"champion {champion_version} reads features the mart no longer has, so the two cannot be compared: "
            f"the challenger waits and {champion_version} keeps scoring",
            champion_version,
        )
    labels = validation_rows[LABEL_COLUMN].to_numpy()
    champion_probabilities = predict(booster, validation_rows, champion_card.feature_names, champion_card.platt_scaling)
    champion_auc = auc(labels, champion_probabilities)
    promote, reason = decide(auc(labels, challenger_probabilities), champion_auc, tolerance)
    swap = swap_set(labels, champion_probabilities, challenger_probabilities, policy)
    return Promotion(
        CHAMPION if promote else REJECTED,
        f"{reason}; swap set: {describe_swap_set(swap)}",
        champion_version,
        round(champion_auc, 6),
        swap,
    )


def register(
    connection: duckdb.DuckDBPyConnection,
    card: ModelCard,
    validation_rows: pd.DataFrame,
    challenger_probabilities: np.ndarray,
    models_root: Path,
    tolerance: float,
    policy: DecisionPolicy = DEFAULT_POLICY,
) -> dict:
    """Register `card` once: challenge the champion, record the decision; a second call returns the first decision.

    `validation_rows` are the challenger's validation window (features and labels) and
    `challenger_probabilities` its validation model's calibrated probabilities there, row for row.
    """
    existing = registered(connection, card.version)
    if existing and existing["status"] != SUPERSEDED:
        return existing
    # A superseded model trained again (its month's rows went back to what they were) is challenged anew.
    promotion = challenge(connection, card, validation_rows, challenger_probabilities, models_root, tolerance, policy)
    month = card.training_month
    window = validation_window(card)
    baseline = card.score_baseline or {}
    with transaction(connection):
        connection.execute("delete from scoring.model_registry where version = ?", [card.version])
        if promotion.status == CHAMPION:
            # A month trained again replaces its earlier models only when the new one is promoted:
            # a retrain that is rejected or pending leaves the working champion where it is.
            connection.execute(
                "update scoring.model_registry set status = ? where training_month = ? and status <> ?",
                [SUPERSEDED, month, SUPERSEDED],
            )
            connection.execute(
                "update scoring.model_registry set status = ? where status = ? and training_month < ?",
                [RETIRED, CHAMPION, month],
            )
        connection.execute(
            """
            insert into scoring.model_registry (
                version, training_month, validation_month, params, validation_auc, champion_version,
                champion_validation_auc, training_fingerprint, model_sha256, status, decision_reason, registered_at,
                score_bin_upper_bounds, score_bin_shares, excluded_attributes, windows, model_path, swap_set
            ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                card.version,
                month,
                date.fromisoformat(f"{window.months[0]}-01") if len(window.months) == 1 else None,
                json.dumps(card.params, sort_keys=True),
                card.metrics["validation_auc"],
                promotion.champion_version,
                promotion.champion_validation_auc,
                card.training_fingerprint,
                card.model_sha256,
                promotion.status,
                promotion.reason,
                datetime.now(UTC).replace(tzinfo=None),
                baseline.get("cuts"),
                baseline.get("shares"),
                ",".join(card.protected_attributes or []),
                json.dumps(card.windows),
                str(model_dir(models_root, card.version)),
                json.dumps(promotion.swap_set) if promotion.swap_set else None,
            ],
        )
        if card.feature_baseline is not None:  # a card from before them, reused, keeps the rows binned since
            record_feature_baselines(connection, card.version, card.feature_baseline)
    return {
        "version": card.version,
        "status": promotion.status,
        "decision_reason": promotion.reason,
        "swap_set": promotion.swap_set,
    }


def record_feature_baselines(connection: duckdb.DuckDBPyConnection, version: str, baselines: list[dict]) -> None:
    """Replace `version`'s rows of `scoring.feature_baselines` (in the caller's transaction)."""
    connection.execute("delete from scoring.feature_baselines where version = ?", [version])
    rows = [[version, b["feature"], b["kind"], b["bins"], b["shares"], b["cuts"], b["rows"]] for b in baselines]
    if rows:
        connection.executemany(
            "insert into scoring.feature_baselines "
            "(version, feature, feature_kind, bins, shares, cuts, reference_rows) values (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def versions_without_baselines(connection: duckdb.DuckDBPyConnection, versions: list[str]) -> list[str]:
    rows = connection.execute("select distinct version from scoring.feature_baselines").fetchall()
    recorded = {version for (version,) in rows}
    return [version for version in versions if version not in recorded]


def baselines_from_training_set(models_root: Path, training_sets: Path, version: str) -> tuple[list[dict] | None, str]:
    """The feature baselines of a model registered before they were recorded (2026-12), and what was done.

    Binned from the training set it was trained on (`training_sets/YYYY-MM.parquet`) when that
    file is still the one: the card's number of rows and fingerprint. None when it is gone or
    another: the model's months then keep the score's PSI alone, and their warnings say that
    the features were not measured.
    """
    card = read_card(models_root, version)
    if card is None:
        return None, "no model card"
    if card.feature_baseline is not None:
        return card.feature_baseline, "from its card"
    path = training_sets / f"{card.month}.parquet"
    if not path.exists():
        return None, f"no baseline: its training set {path.name} is gone"
    parquet = pq.ParquetFile(path)  # one open file: the rows hashed are the rows binned
    # Another number of rows (in the file's footer) is another training set, told without hashing it.
    if parquet.metadata.num_rows != card.metrics.get("train_rows") or file_fingerprint(parquet) != (
        card.training_fingerprint
    ):
        return None, f"no baseline: its training set {path.name} holds other rows than it was trained on"
    data = TrainingData.from_parquet(parquet)
    baselines = [baseline.as_dict() for baseline in feature_baselines(data.feature_names, data.column)]
    return baselines, f"binned {len(baselines)} features from {path.name}"
