"""Where each month stands in Dagster: published, stale (a delivery changed since), failed, or never run.

`credit status` must answer in well under two seconds, and importing dagster alone takes about one
(it pulls in `dagster.components`), opening the instance's SQLAlchemy/Alembic storage nearly another.
So this module reads the instance's records straight from its SQLite files with the standard library,
importing neither dagster nor the asset definitions. The data directory's instance uses Dagster's
default storage (assets/dagster.yaml configures none), which keeps, under the Dagster home:

- `history/runs.db`: table `runs` (`run_id`, `pipeline_name`: the job, `status` as the `DagsterRunStatus` name) and
  `run_tags` (`key`, `value`; the month in the tag `dagster/partition`);
- `history/runs/index.db`: table `event_logs`, every asset event of every run with its storage id
  (`id`), `dagster_event_type`, `asset_key` (`AssetKey.to_string()`, a JSON list) and `partition`;
  and table `asset_keys`, whose `asset_details` records when an asset was wiped.

The queries are those of `SqlRunStorage.get_runs()` and `SqlEventLogStorage.
get_latest_storage_id_by_partition()`. tests/assets/test_run_records.py pins them against
Dagster's own API on a real instance, so an upgrade that changes the schema fails that test loudly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assets import record_names
from assets.record_names import PARTITION_TAG
from warehouse.ingestion.delivery_names import parse_month
from warehouse.paths import DataPaths

# `AssetKey.to_string()` of the keys, as the event log stores them.
RAW_APPLICATIONS = json.dumps([record_names.RAW_APPLICATIONS])
RAW_OUTCOMES = json.dumps([record_names.RAW_OUTCOMES])
MONTHLY_OUTBOX = json.dumps([record_names.MONTHLY_OUTBOX])  # once it is materialised, the month's scores are out
CREDIT_DEFAULT_MODEL = json.dumps([record_names.CREDIT_DEFAULT_MODEL])  # the month's model is ready
MATERIALIZATION = "ASSET_MATERIALIZATION"  # DagsterEventType.ASSET_MATERIALIZATION.value

# `DagsterRunStatus` names. A month whose latest run is in one of these is "running", whatever it was before.
RUNNING_STATUSES = frozenset({"QUEUED", "STARTING", "STARTED"})
FAILURE = "FAILURE"

# SQLAlchemy's format for a DateTime in SQLite, as `event_logs.timestamp` holds it (naive UTC).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class MonthState:
    month: str  # YYYY-MM
    state: str  # published, stale, failed, running, training, model ready, training failed or not run
    run_id: str | None


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str  # a DagsterRunStatus name
    partition: str | None
    job: str


def run_storage(dagster_home: Path) -> Path:
    return dagster_home / "history" / "runs.db"


def event_log_index(dagster_home: Path) -> Path:
    return dagster_home / "history" / "runs" / "index.db"


@contextmanager
def _read_only(database: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        yield connection


def runs_newest_first(dagster_home: Path) -> list[RunRecord]:
    """Every run, as `instance.get_runs()` lists them; none before the instance has stored one."""
    if not run_storage(dagster_home).exists():
        return []
    with _read_only(run_storage(dagster_home)) as connection:
        rows = connection.execute(
            "select runs.run_id, runs.status, run_tags.value, runs.pipeline_name from runs"
            " left join run_tags on run_tags.run_id = runs.run_id and run_tags.key = ?"
            " order by runs.id desc",
            [PARTITION_TAG],
        ).fetchall()
    return [RunRecord(run_id, status, partition, job) for run_id, status, partition, job in rows]


def latest_materializations(dagster_home: Path, asset_key: str) -> dict[str, int]:
    """Partition -> storage id of its latest materialisation since the asset was last wiped.

    What `instance.get_latest_storage_id_by_partition(key, ASSET_MATERIALIZATION)` answers;
    `asset_key` is `AssetKey.to_string()`.
    """
    if not event_log_index(dagster_home).exists():
        return {}
    with _read_only(event_log_index(dagster_home)) as connection:
        details = connection.execute("select asset_details from asset_keys where asset_key = ?", [asset_key]).fetchone()
        wiped = json.loads(details[0]).get("last_wipe_timestamp") if details and details[0] else None
        query = (
            "select partition, max(id) from event_logs"
            " where asset_key = ? and partition is not null and dagster_event_type = ?"
        )
        parameters = [asset_key, MATERIALIZATION]
        if wiped:  # events up to the wipe no longer count
            query += " and timestamp > ?"
            parameters.append(datetime.fromtimestamp(wiped, UTC).replace(tzinfo=None).strftime(_SQLITE_DATETIME))
        return dict(connection.execute(query + " group by partition", parameters).fetchall())


def month_states(paths: DataPaths) -> list[MonthState]:
    """One state per month Dagster knows of: a run, a load, a model trained ahead or a published outbox."""
    published = latest_materializations(paths.dagster_home, MONTHLY_OUTBOX)  # its scores are out
    models = latest_materializations(paths.dagster_home, CREDIT_DEFAULT_MODEL)  # its model is ready
    # A delivery recorded after the month was published (`credit load` of a correction) makes it stale.
    delivered: dict[str, int] = {}
    for key in (RAW_APPLICATIONS, RAW_OUTCOMES):
        for partition, storage_id in latest_materializations(paths.dagster_home, key).items():
            delivered[partition] = max(storage_id, delivered.get(partition, 0))
    month_runs: dict[str, RunRecord] = {}  # the latest run of each month's own job
    model_runs: dict[str, RunRecord] = {}  # the latest training of each month's model ahead
    for run in runs_newest_first(paths.dagster_home):
        latest = model_runs if run.job == record_names.TRAIN_AHEAD else month_runs
        if run.partition and run.partition not in latest:
            latest[run.partition] = run
    states = []
    for partition in sorted(set(published) | set(delivered) | set(month_runs) | set(model_runs) | set(models)):
        run, model_run = month_runs.get(partition), model_runs.get(partition)
        if run and run.status in RUNNING_STATUSES:
            state = "running"
        elif partition in published:
            state = "stale" if delivered.get(partition, 0) > published[partition] else "published"
        elif run and run.status == FAILURE:
            state = "failed"
        elif model_run and model_run.status in RUNNING_STATUSES:
            run, state = model_run, "training"
        elif partition in models:
            run = run or model_run
            state = "model ready" if partition in delivered else "model ready, waiting for its file"
        elif model_run and model_run.status == FAILURE:
            run, state = model_run, "training failed"
        else:
            state = "not run"
        states.append(MonthState(f"{parse_month(partition):%Y-%m}", state, run.run_id if run else None))
    return states
