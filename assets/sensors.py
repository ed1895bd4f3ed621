"""Automation: the inbox sensor starts a month when its file arrives; run-status sensors notify.

The inbox sensor looks at the inbox's top-level `*.csv` files (hidden names are copies in
progress and are skipped). A file is considered once it has stopped changing for
`SETTLE_SECONDS`. Then:
- a month file (`YYYYMM01.csv`) that passes the file's own contract checks starts that
  month's run of `monthly_pipeline`, oldest month first;
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

from assets.deliveries import MONTH_FILE_SHA256, RAW_APPLICATIONS
from assets.jobs import monthly_pipeline
from assets.notify import notify_run
from assets.partitions import partition_key
from assets.resources import WarehouseResource
from warehouse.deliveries import parse_delivery_name
from warehouse.loader import check_file
from warehouse.notifications import DELIVERY_ACCEPTED, DELIVERY_REJECTED, Notification, notify, webhook_url_from_env
from warehouse.paths import DataPaths
from warehouse.quarantine import quarantine
from warehouse.report import DeliveryReport

# A file still being copied changes size and time; one untouched this long is taken as complete.
SETTLE_SECONDS = 10.0
POLL_SECONDS = int(os.environ.get("CREDIT_INBOX_POLL_SECONDS", "30"))
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
    job=monthly_pipeline,
    minimum_interval_seconds=POLL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a month's run when its YYYYMM01.csv arrives in the inbox; quarantines and reports invalid files.",
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
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    if not runs:
        return dg.SkipReason("no new month file in the inbox")
    # Oldest month first: runs are queued one at a time and month M trains on the months before it.
    return [
        dg.RunRequest(
            run_key=f"{file_name}@{sha256}",
            partition_key=partition_key(month),
            tags={"credit/delivery": file_name, "credit/sha256": sha256[:16]},
        )
        for month, file_name, sha256 in sorted(runs)
    ]


def _notify_from_sensor(context: dg.RunStatusSensorContext, warehouse: WarehouseResource) -> None:
    run = context.dagster_run
    if run.tags.get(CLI_SOURCE_TAG[0]) == CLI_SOURCE_TAG[1]:
        return
    record = notify_run(context.instance, run.run_id, warehouse.paths)
    context.log.info(f"notified: {record['text']}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notifies the webhook and the notifications log when a run succeeds, with its check warnings.",
)
def notify_on_success(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    _notify_from_sensor(context, warehouse)


@dg.run_failure_sensor(
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notifies the webhook and the notifications log when a run fails: month, run, failing step and error.",
)
def notify_on_failure(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    _notify_from_sensor(context, warehouse)
