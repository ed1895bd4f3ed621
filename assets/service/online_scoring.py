"""One online request: checked, featured by the mart's SQL, scored and explained as the batch is, logged.

The answer for an application is the batch's for the same raw row: the same feature SQL
(`warehouse.online.features`), the same champion, `ml.scoring.scored_columns` (the columns the
batch's `score` makes its frame of) with the same policy and reasons, the raw text values quoted
back as `ml.dataset.applicant_values` gives them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from assets.service.models import LoadedModel, ModelSet, ModelWatcher
from ml.dataset import ID_COLUMN
from ml.explanations import REASON_COUNT
from ml.features import CATEGORICAL_COLUMNS
from ml.scoring import scored_columns
from warehouse.online.applications import checked_applications
from warehouse.online.decision_log import DecisionLog
from warehouse.online.features import Applications, DuckDbFeatures, RowFeatures

logger = logging.getLogger(__name__)
# Above this many rows one DuckDB query costs less than the row-by-row evaluator.
DUCKDB_FROM_ROWS = 200


@dataclass
class Timings:
    """Where a request's time went, in seconds: the response's Server-Timing header, which the bench reads."""

    check: float = 0.0
    features: float = 0.0
    model: float = 0.0
    reasons: float = 0.0
    answer: float = 0.0
    log: float = 0.0

    def header(self) -> str:
        parts = ("check", "features", "model", "reasons", "answer", "log")
        return ", ".join(f"{name};dur={getattr(self, name) * 1000:.3f}" for name in parts)


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
    # Object columns: pandas' inferred string columns cost a millisecond a request to build here.
    return pd.DataFrame(columns, dtype=object)


def _scored(
    model: LoadedModel, models: ModelSet, rows: pd.DataFrame, values: pd.DataFrame, timings: Timings | None
) -> dict[str, object]:
    split: dict[str, float] = {}
    scored = scored_columns(
        model.booster,
        rows,
        model.card.feature_names,
        model.card.version,
        models.policy,  # the batch's own thresholds and reason count, as published with the latest month
        model.card.platt_scaling,
        values,
        reason_count=models.reasons,
        timings=split,
    )
    if timings is not None:
        timings.model, timings.reasons = split["model"], split["reasons"]
    return scored


def _results(column: dict[str, object]) -> list[dict]:
    """Each row's answer, in the rows' order, from `scored_columns`; reason slots past the last reason are left out."""
    codes = [column[f"reason_code_{i}"] for i in range(1, REASON_COUNT + 1)]
    texts = [column[f"reason_{i}"] for i in range(1, REASON_COUNT + 1)]
    return [
        {
            "sk_id_curr": int(column[ID_COLUMN][row]),
            "default_probability": float(column["default_probability"][row]),
            "risk_grade": str(column["risk_grade"][row]),
            "decision": str(column["decision"][row]),
            "reason_codes": [str(slot[row]) for slot in codes if not _is_empty(slot[row])],
            "reasons": [str(slot[row]) for slot in texts if not _is_empty(slot[row])],
        }
        for row in range(len(column[ID_COLUMN]))
    ]


def _is_empty(value) -> bool:
    # None; NaN or pd.NA, as a string column of pandas' holds a missing value.
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


@dataclass
class _Job:
    """One request waiting for a scoring worker."""

    body: bytes
    document: dict
    applications: Applications
    received_at: datetime
    timings: Timings
    done: Future


def _merged(jobs: list[_Job]) -> Applications:
    first = jobs[0].applications
    if len(jobs) == 1:
        return first
    values = {name: [value for job in jobs for value in job.applications.values[name]] for name in first.values}
    return Applications(values, first.month, first.received_at)


class _Worker:
    """A thread that scores the requests queued for it; with `merge`, those waiting together in one go.

    The fixed cost of a scoring call (building the frame, LightGBM's and pandas' calls) is most
    of a small request's time, so requests that arrive while one is scored are scored together
    next: under load the service answers more, not slower.
    """

    def __init__(self, score_jobs, name: str, merge_up_to_rows: int):
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._score_jobs = score_jobs
        self._merge_up_to_rows = merge_up_to_rows
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, job: _Job) -> None:
        self._queue.put(job)

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            rows = jobs[0].applications.rows
            while rows < self._merge_up_to_rows:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                rows += job.applications.rows
            try:
                self._score_jobs(jobs)
            except BaseException as error:  # every waiting request learns of it; the worker goes on
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(error)


class OnlineScorer:
    """Checks requests in the caller's thread, scores them on two workers: small requests, and batches."""

    def __init__(
        self, reference: DuckDbFeatures, row_features: RowFeatures | None, watcher: ModelWatcher, log: DecisionLog
    ):
        self.reference = reference
        self.row_features = row_features
        self.watcher = watcher
        self.log = log
        # Which definition made the features, for the decision log: the SQL dbt compiled, hashed.
        self.feature_sql_sha256 = hashlib.sha256(
            f"{reference.sql.staging}\x1f{reference.sql.mart}".encode()
        ).hexdigest()
        # Small requests merge up to the row-by-row evaluator's best size; a batch has a worker of
        # its own, so a thousand applications never hold up one.
        self._small = _Worker(self._score_jobs, "score-small", merge_up_to_rows=DUCKDB_FROM_ROWS)
        self._large = _Worker(self._score_jobs, "score-batches", merge_up_to_rows=0)

    @property
    def ready(self) -> bool:
        return self.watcher.models is not None

    def features(self, applications: Applications) -> pd.DataFrame:
        if self.row_features is not None and applications.rows < DUCKDB_FROM_ROWS:
            return self.row_features.frame(applications)
        return self.reference.frame(applications)

    def submit(self, body: bytes, document: object) -> Future:
        """Check a parsed request and queue it; the future gives its OnlineAnswer.

        Raises InvalidApplications (every field problem) at once: nothing of a bad request is scored.
        """
        timings = Timings()
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        month = date(received_at.year, received_at.month, 1)
        applications = checked_applications(document, month, received_at.replace(tzinfo=None))
        timings.check = time.perf_counter() - started
        if self.watcher.models is None:
            raise RuntimeError(self.watcher.problem or "no model loaded")
        job = _Job(body, document, applications, received_at, timings, Future())
        worker = self._large if applications.rows >= DUCKDB_FROM_ROWS else self._small
        worker.submit(job)
        return job.done

    def answer(self, body: bytes, document: object) -> OnlineAnswer:
        """`submit`, then wait for the answer (for callers outside the event loop)."""
        return self.submit(body, document).result()

    def _score_jobs(self, jobs: list[_Job]) -> None:
        models: ModelSet = self.watcher.models  # one set for the whole batch, whatever swaps meanwhile
        timings = Timings()
        applications = _merged(jobs)
        started = time.perf_counter()
        rows = self.features(applications)
        timings.features = time.perf_counter() - started
        if rows[ID_COLUMN].tolist() != applications.values[ID_COLUMN]:
            # The batch refuses scores whose rows and raw values disagree; so does the service.
            raise RuntimeError("the feature rows do not match the request's applications, row for row")
        values = _applicant_values(applications)
        scored = _scored(models.champion, models, rows, values, timings)
        started = time.perf_counter()
        results = _results(scored)
        timings.answer = time.perf_counter() - started
        shadow = self._shadow(models, rows, values)
        started = time.perf_counter()
        decided = {
            "model_version": models.champion.version,
            "review_from": models.policy.review_from,
            "decline_from": models.policy.decline_from,
            "feature_sql_sha256": self.feature_sql_sha256,
        }
        records, offset = [], 0
        for job in jobs:
            size = job.applications.rows
            job_shadow = shadow[offset : offset + size] if shadow is not None else None
            records += _log_records(job, decided, results[offset : offset + size], job_shadow)
            offset += size
        self.log.append(records)  # one write and one fsync for the requests scored together
        timings.log = time.perf_counter() - started
        offset = 0
        for job in jobs:
            size = job.applications.rows
            # The batch's own times, with the request's own check.
            answered = dataclasses.replace(timings, check=job.timings.check)
            job.done.set_result(OnlineAnswer(models.champion.version, results[offset : offset + size], answered))
            offset += size

    def _shadow(self, models: ModelSet, rows: pd.DataFrame, values: pd.DataFrame) -> list[dict] | None:
        """The pending challenger's answers, to log beside the champion's and never return.

        Its failure never fails the request: the challenger is under test, the champion answers.
        """
        if models.challenger is None:
            return None
        try:
            results = _results(_scored(models.challenger, models, rows, values, None))
        except Exception as error:
            logger.warning("shadow scoring with %s failed: %r", models.challenger.version, error)
            return None
        return [{"model_version": models.challenger.version, **result} for result in results]


def _log_records(job: _Job, decided: dict, results: list[dict], shadow: list[dict] | None) -> list[dict]:
    digest = request_sha256(job.body)
    decided_at = job.received_at.isoformat()
    records = []
    for position, result in enumerate(results):
        record = {
            "request_sha256": digest,
            "decided_at": decided_at,
            **decided,
            **result,
            "application": job.document["applications"][position],
        }
        if shadow is not None:
            record["shadow"] = shadow[position]
        records.append(record)
    return records


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"the body is not JSON: {error}") from error
