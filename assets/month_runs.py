"""Materialise a month through Dagster in this process, recorded in the data directory's Dagster home."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from assets.dagster_instance import dagster_instance
from assets.definitions import defs
from assets.jobs import monthly_pipeline
from assets.partitions import partition_key
from assets.run_notifications import notify_run
from assets.sensors import CLI_SOURCE_TAG
from warehouse.paths import DataPaths

# Unless the caller names other loggers, the terminal gets Dagster's INFO events; the event log keeps the rest.
CONSOLE_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def data_directory_config(paths: DataPaths) -> dict:
    """Run config pointing the warehouse resource at `paths`: the UI shows it with the run, a re-execution keeps it."""
    return {"resources": {"warehouse": {"config": {"data_dir": str(paths.root)}}}}


def run_month(month: date, paths: DataPaths, run_config: dict | None = None) -> MonthRun:
    """Load, build features, train (or reuse) and score one month, in one Dagster run; notifies its result."""
    # The job the sensor and the schedule start, so its retry policy holds here too and the UI
    # lists these runs beside theirs; only the data directory is this call's, given in the run config.
    job = defs.resolve_job_def(monthly_pipeline.name)
    with dagster_instance(paths) as instance:
        result = job.execute_in_process(
            partition_key=partition_key(month),
            instance=instance,
            run_config={**CONSOLE_LOGGING, **data_directory_config(paths), **(run_config or {})},
            tags=dict([CLI_SOURCE_TAG]),
            raise_on_error=False,
        )
        # The run-status sensors skip runs tagged as the CLI's, so this is the one notification.
        notification = notify_run(instance, result.run_id, paths)
    return MonthRun(result, notification)


@dataclass(frozen=True)
class MonthRun:
    result: dg.ExecuteInProcessResult
    notification: dict  # what was logged (and sent to the webhook): text, failed steps, check warnings

    @property
    def success(self) -> bool:
        return self.result.success
