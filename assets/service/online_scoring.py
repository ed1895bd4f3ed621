"""One online request: checked, featured by the mart's SQL, scored and explained as the batch is, logged.

The answer for an application is the batch's for the same raw row: the same feature SQL
(`warehouse.online.features`), the same champion, `ml.scoring.score` with the same policy and
reasons, the raw text values quoted back as `ml.dataset.applicant_values` gives them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from assets.service.models import LoadedModel, ModelSet, ModelWatcher
from ml.dataset import ID_COLUMN
from ml.explanations import REASON_COUNT
from ml.features import CATEGORICAL_COLUMNS
from ml.scoring import DEFAULT_POLICY, score
from warehouse.online.applications import checked_applications
from warehouse.online.decision_log import DecisionLog
from warehouse.online.features import Applications, DuckDbFeatures, RowFeatures

logger = logging.getLogger(__name__)
# Above this many rows one DuckDB query costs less than the row-by-row evaluator.
DUCKDB_FROM_ROWS = 200


@dataclass
class Timings:
    """Where a request's time went, in seconds (the bench prints them)."""

    check: float = 0.0
    features: float = 0.0
    model: float = 0.0
    reasons: float = 0.0
    log: float = 0.0


@dataclass(frozen=True)
class OnlineAnswer:
    model_version: str
    results: list[dict]
    timings: Timings


def request_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _applicant_values(applications: Applications) -> pd.DataFrame:
    """The raw text values a reason quotes back, row for row (as `ml.dataset.applicant_values`)."""
    columns = {ID_COLUMN: applications.values[ID_COLUMN]}
    columns.update({name: applications.values[name] for name in sorted(CATEGORICAL_COLUMNS)})
    return pd.DataFrame(columns)


def _scored(model: LoadedModel, rows: pd.DataFrame, values: pd.DataFrame, timings: Timings | None) -> pd.DataFrame:
    started = time.perf_counter()
    scored = score(
        model.booster,
        rows,
        model.card.feature_names,
        model.card.version,
        DEFAULT_POLICY,
        model.card.platt_scaling,
        values,
        reason_count=REASON_COUNT,
    )
    if timings is not None:
        timings.model = time.perf_counter() - started
    return scored


def _results(scored: pd.DataFrame) -> list[dict]:
    results = []
    codes = scored[[f"reason_code_{i}" for i in range(1, REASON_COUNT + 1)]].to_numpy()
    texts = scored[[f"reason_{i}" for i in range(1, REASON_COUNT + 1)]].to_numpy()
    for row, (identifier, probability, grade, decision) in enumerate(
        zip(scored[ID_COLUMN], scored["default_probability"], scored["risk_grade"], scored["decision"], strict=True)
    ):
        results.append(
            {
                "sk_id_curr": int(identifier),
                "default_probability": float(probability),
                "risk_grade": str(grade),
                "decision": str(decision),
                "reason_codes": [code for code in codes[row] if code is not None],
                "reasons": [text for text in texts[row] if text is not None],
            }
        )
    return results


class OnlineScorer:
    def __init__(
        self, reference: DuckDbFeatures, row_features: RowFeatures | None, watcher: ModelWatcher, log: DecisionLog
    ):
        self.reference = reference
        self.row_features = row_features
        self.watcher = watcher
        self.log = log

    @property
    def ready(self) -> bool:
        return self.watcher.models is not None

    def features(self, applications: Applications) -> pd.DataFrame:
        if self.row_features is not None and applications.rows < DUCKDB_FROM_ROWS:
            return self.row_features.frame(applications)
        return self.reference.frame(applications)

    def answer(self, body: bytes, document: object) -> OnlineAnswer:
        """Score a parsed request; raises InvalidApplications (every field problem) before anything is scored."""
        timings = Timings()
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        month = date(received_at.year, received_at.month, 1)
        applications = checked_applications(document, month, received_at.replace(tzinfo=None))
        timings.check = time.perf_counter() - started
        models: ModelSet | None = self.watcher.models  # one set for the whole request, whatever swaps meanwhile
        if models is None:
            raise RuntimeError(self.watcher.problem or "no model loaded")
        started = time.perf_counter()
        rows = self.features(applications)
        timings.features = time.perf_counter() - started
        values = _applicant_values(applications)
        scored = _scored(models.champion, rows, values, timings)
        started = time.perf_counter()
        results = _results(scored)
        timings.reasons = time.perf_counter() - started
        shadow = self._shadow(models, rows, values)
        started = time.perf_counter()
        self._log(body, document, applications, models.champion.version, results, shadow, received_at)
        timings.log = time.perf_counter() - started
        return OnlineAnswer(models.champion.version, results, timings)

    def _shadow(self, models: ModelSet, rows: pd.DataFrame, values: pd.DataFrame) -> list[dict] | None:
        """The pending challenger's answers, to log beside the champion's and never return.

        Its failure never fails the request: the challenger is under test, the champion answers.
        """
        if models.challenger is None:
            return None
        try:
            results = _results(_scored(models.challenger, rows, values, None))
        except Exception as error:
            logger.warning("shadow scoring with %s failed: %r", models.challenger.version, error)
            return None
        return [{"model_version": models.challenger.version, **result} for result in results]

    def _log(self, body, document, applications, version, results, shadow, received_at) -> None:
        digest = request_sha256(body)
        decided_at = received_at.isoformat()
        sent = document["applications"]
        records = []
        for position, result in enumerate(results):
            record = {
                "request_sha256": digest,
                "decided_at": decided_at,
                "model_version": version,
                **result,
                "application": sent[position],
            }
            if shadow is not None:
                record["shadow"] = shadow[position]
            records.append(record)
        self.log.append(records, received_at)


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"the body is not JSON: {error}") from error
