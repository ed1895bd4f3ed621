"""Automation: the inbox sensor starts a month when its file arrives; run-status sensors notify.

The inbox sensor looks at the inbox's top-level `*.csv` files (hidden names are copies in
progress and are skipped). A file is considered once it has stopped changing for
`SETTLE_SECONDS`. Then:
- a month file (`YYYYMM01.csv`) that passes the file's own contract checks starts that
  month's run (`score_month` when its model was trained ahead, else `monthly_pipeline`),
  oldest month first, once every month before it is loaded, queued or requested in the same
  tick (month M trains on all of them), with the training budget and seed of the latest model
  up to the month when it trains one (assets/carried_model_config.py); until
  then the file stays out of the cursor, so a later tick looks at it again;
- a file that fails them, or whose name is not a delivery name, is moved to quarantine with
  its report, and a `delivery_rejected` notification says why; no run starts;
- the history and outcome files are checked the same way but start nothing: the next month
  run loads them;
- a month file whose month was already run from this very content (say by `credit run`
  before the sensor was on) starts nothing.

Each file triggers at most one run: the cursor remembers each file's size and modification
time, and the run key is the file's name and sha256, which Dagster never runs twice, across
restarts and cursor resets alike. New content under the same name is a new delivery and
starts the month again.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import dagster as dg

from assets.carried_model_config import carried_model_config
from assets.jobs import monthly_pipeline, score_month, train_ahead
from assets.model_readiness import ACTIVE_RUN_STATUSES, month_job_name
from assets.partitions import monthly_partitions, partition_key, partition_month
from assets.raw_deliveries import MONTH_FILE_SHA256, RAW_APPLICATIONS
from assets.resources import WarehouseResource
from assets.run_notifications import PARTITION_TAG, notify_run
from warehouse.ingestion.check_report import DeliveryReport
from warehouse.ingestion.delivery_names import DeliveryNameError, add_months, parse_delivery_name
from warehouse.ingestion.ledger import months_before
from warehouse.ingestion.loader import check_file
from warehouse.ingestion.quarantine import quarantine
from warehouse.paths import DataPaths
from warehouse.publishing.notifications import (
    DELIVERY_ACCEPTED,
    DELIVERY_REJECTED,
    Notification,
    notify,
    webhook_url_from_env,
)

# A file still being copied changes size and time; one untouched this long is taken as complete.
SETTLE_SECONDS = 10.0
POLL_SECONDS = int(os.environ.get("CREDIT_INBOX_POLL_SECONDS", "30"))
# Run-status sensors read only Dagster's event log, so they may look often (Dagster's default is
# 30 s): a notification, and the next month's training, follow a run within seconds.
RUN_STATUS_SECONDS = int(os.environ.get("CREDIT_RUN_STATUS_POLL_SECONDS", "5"))
CLI_SOURCE_TAG = ("source", "credit-cli")  # runs started by `credit run` notify by themselves


def settled_arrivals(inbox: Path, seen: dict[str, str], now: float) -> tuple[list[Path], dict[str, str]]:
    """Files new or changed since the cursor and settled; and the cursor for the files present."""
    arrivals, cursor = [], {}
    for path in sorted(inbox.glob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() != ".csv":
            continue
        stat = path.stat()
        signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        if seen.get(path.name) == signature:
            cursor[path.name] = signature
        elif now - stat.st_mtime >= SETTLE_SECONDS:
            arrivals.append(path)
            cursor[path.name] = signature
        # else: still arriving; left out of the cursor, so the next tick looks again
    return arrivals, cursor


def already_materialised(instance: dg.DagsterInstance, month: date, sha256: str) -> bool:
    """True when the month's latest load step read exactly this content of its file.

    Read from Dagster's own records, not the warehouse: the sensor never takes DuckDB's
    lock, which would make a dbt build that is writing at that moment fail.
    """
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW_APPLICATIONS, asset_partitions=[partition_key(month)]), limit=1
    )
    if not result.records:
        return False
    loaded = result.records[0].asset_materialization.metadata.get(MONTH_FILE_SHA256)
    return loaded is not None and loaded.value == sha256


def months_loaded_or_on_their_way(instance: dg.DagsterInstance) -> set[date]:
    """Months whose load step has materialised, or that have a queued, starting or started run.

    Dagster's records only: the sensor never takes the warehouse's lock.
    """
    partitions = set(instance.get_materialized_partitions(RAW_APPLICATIONS))
    # A month's own run will load its month before any run queued after it starts; a model's training loads nothing.
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES)):
        if run.job_name == train_ahead.name:
            continue
        if run.tags.get(PARTITION_TAG):
            partitions.add(run.tags[PARTITION_TAG])
    months = set()
    for partition in partitions:
        try:
            months.add(partition_month(partition))
        except DeliveryNameError:
            continue  # not a month partition of this project
    return months


def _reject(paths: DataPaths, path: Path, report: DeliveryReport, webhook: str | None) -> None:
    moved, report_path = quarantine(path, report, paths.quarantine)
    notify(
        paths,
        Notification(
            DELIVERY_REJECTED,
            f"{path.name} rejected before any run: moved to quarantine",
            report.month,
            details={"problems": report.summary(), "quarantined_file": str(moved), "report": str(report_path)},
        ),
        webhook,
    )


@dg.sensor(
    jobs=[monthly_pipeline, score_month],
    minimum_interval_seconds=POLL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts a month's run when its YYYYMM01.csv arrives in the inbox; quarantines and reports invalid files."
    ),
)
def inbox_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    paths = warehouse.paths
    seen = json.loads(context.cursor) if context.cursor else {}
    arrivals, cursor = settled_arrivals(paths.inbox, seen, time.time())
    webhook = webhook_url_from_env()
    runs = []
    for path in arrivals:
        report = check_file(path)
        if report.rejected:
            context.log.warning(report.summary())
            _reject(paths, path, report, webhook)
            del cursor[path.name]
            continue
        delivery = parse_delivery_name(path.name)
        if delivery.month is None or delivery.is_outcomes:
            notify(
                paths,
                Notification(DELIVERY_ACCEPTED, f"{path.name} accepted: the next month's run loads it", report.month),
                webhook,
            )
            continue
        if already_materialised(context.instance, delivery.month, report.sha256):
            context.log.info(f"{path.name}: {delivery.month:%Y-%m} was run from this content already; no run")
            continue
        runs.append((delivery.month, path.name, report.sha256))
    # Oldest month first: runs are queued one at a time and month M trains on the months before it,
    # so M is requested only when each earlier month is loaded, on its way, or requested just before it.
    requests, waiting = [], []
    ready = months_loaded_or_on_their_way(context.instance) if runs else set()
    for month, file_name, sha256 in sorted(runs):
        missing = [earlier for earlier in months_before(month) if earlier not in ready]
        if missing:
            # Left out of the cursor: a later tick looks at the file again.
            del cursor[file_name]
            waiting.append(file_name)
            context.log.info(
                f"{file_name}: {month:%Y-%m} waits for {', '.join(f'{m:%Y-%m}' for m in missing)}"
                f" (not loaded, no run queued or requested); looked at again on the next tick"
            )
            continue
        ready.add(month)
        # score_month when the month's model was trained ahead (or is being), else the whole pipeline.
        job_name = month_job_name(context.instance, paths, month)
        run_config, tags = {}, {"credit/delivery": file_name, "credit/sha256": sha256[:16]}
        if job_name == monthly_pipeline.name:  # trains the month's model first: as the latest model was trained
            carried = carried_model_config(context.instance, month)
            context.log.info(f"{file_name}: {month:%Y-%m}'s model is trained first; model config {carried.note}")
            run_config, tags = carried.run_config(), {**tags, **carried.tags()}
        requests.append(
            dg.RunRequest(
                run_key=f"{file_name}@{sha256}",
                job_name=job_name,
                partition_key=partition_key(month),
                run_config=run_config,
                tags=tags,
            )
        )
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    if not requests:
        if waiting:
            return dg.SkipReason(f"waiting for earlier months before starting {', '.join(waiting)}")
        return dg.SkipReason("no new month file in the inbox")
    return requests


def _notify_from_sensor(context: dg.RunStatusSensorContext, warehouse: WarehouseResource) -> None:
    run = context.dagster_run
    if run.tags.get(CLI_SOURCE_TAG[0]) == CLI_SOURCE_TAG[1]:
        return
    record = notify_run(context.instance, run.run_id, warehouse.paths)
    context.log.info(f"notified: {record['text']}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=RUN_STATUS_SECONDS,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notifies the webhook and the notifications log when a run succeeds, with its check warnings.",
)
def notify_on_success(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    _notify_from_sensor(context, warehouse)


@dg.run_failure_sensor(
    minimum_interval_seconds=RUN_STATUS_SECONDS,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notifies the webhook and the notifications log when a run fails: month, run, failing step and error.",
)
def notify_on_failure(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    _notify_from_sensor(context, warehouse)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[monthly_pipeline, score_month],
    request_job=train_ahead,
    minimum_interval_seconds=RUN_STATUS_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "When month M-1's run succeeds, queues the training of month M's model (once per run), so M's run only"
        " loads, scores and publishes; with the training budget and seed of the latest model."
    ),
)
def train_next_month(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if run.tags.get(CLI_SOURCE_TAG[0]) == CLI_SOURCE_TAG[1]:
        return dg.SkipReason("run from `credit run`, which trains the next month ahead itself")
    if not run.tags.get(PARTITION_TAG):
        return dg.SkipReason("not a month's run")
    next_month = add_months(partition_month(run.tags[PARTITION_TAG]), 1)
    if not monthly_partitions.has_partition_key(partition_key(next_month)):
        return dg.SkipReason(f"{next_month:%Y-%m} has not begun: its model is trained once it has")
    # Trained as the latest model was: the choices a person made for it, not the defaults.
    carried = carried_model_config(context.instance, next_month)
    context.log.info(f"{next_month:%Y-%m}'s model: model config {carried.note}")
    return dg.RunRequest(
        # One training per finished month run: a sensor restart or a second tick asks for the same key.
        run_key=f"train-ahead {next_month:%Y-%m} after {run.run_id}",
        partition_key=partition_key(next_month),
        run_config=carried.run_config(),
        tags={"credit/trained_after_run": run.run_id, **carried.tags()},
    )
