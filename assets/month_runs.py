"""Materialise months through Dagster from the command line, recorded in the data directory's Dagster home."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from assets.definitions import ALL_ASSETS
from assets.monitoring_checks import MONITORING_CHECKS
from assets.jobs import monthly_pipeline
from assets.run_notifications import notify_run
from assets.partitions import partition_key
from assets.resources import WarehouseResource, default_resources
from assets.sensors import CLI_SOURCE_TAG
from warehouse.paths import DataPaths

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def dagster_instance(paths: DataPaths) -> dg.DagsterInstance:
    """The data directory's Dagster home, so runs started here also show in `make ui`."""
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_CONFIG, paths.dagster_home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(paths.dagster_home))


# The terminal gets Dagster's INFO events; the debug stream stays in the run's event log.
CONSOLE_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def run_month(month: date, paths: DataPaths, run_config: dict | None = None) -> MonthRun:
    """Load, build features, train (or reuse) and score one month, in one Dagster run; notifies its result."""
    resources = {**default_resources(), "warehouse": WarehouseResource(data_dir=str(paths.root))}
    # The same job the sensor and the schedule start, so its retry policy holds here too and
    # the UI lists CLI runs beside theirs; only the data directory is this one's.
    definitions = dg.Definitions(assets=ALL_ASSETS, asset_checks=MONITORING_CHECKS, jobs=[monthly_pipeline], resources=resources)
    job = definitions.resolve_job_def(monthly_pipeline.name)
    with dagster_instance(paths) as instance:
        result = job.execute_in_process(
            partition_key=partition_key(month),
            instance=instance,
            run_config={**CONSOLE_LOGGING, **(run_config or {})},
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
