"""Materialise months through Dagster from the command line, recorded in the data directory's Dagster home."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg

from assets.definitions import ALL_ASSETS
from assets.partitions import partition_key
from assets.resources import WarehouseResource, default_resources
from warehouse.paths import DataPaths

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def dagster_instance(paths: DataPaths) -> dg.DagsterInstance:
    """The data directory's Dagster home, so runs started here also show in `make ui`."""
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_CONFIG, paths.dagster_home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(paths.dagster_home))


# The terminal gets Dagster's INFO events; the debug stream stays in the run's event log.
CONSOLE_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def run_month(month: date, paths: DataPaths, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """Load, build features, train (or reuse) and score one month, in one Dagster run."""
    resources = {**default_resources(), "warehouse": WarehouseResource(data_dir=str(paths.root))}
    with dagster_instance(paths) as instance:
        return dg.materialize(
            ALL_ASSETS,
            partition_key=partition_key(month),
            resources=resources,
            instance=instance,
            run_config={**CONSOLE_LOGGING, **(run_config or {})},
            tags={"source": "credit-cli"},
        )
