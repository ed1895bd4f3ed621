"""The data directory's Dagster instance, where runs started from the command line are recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from warehouse.paths import DataPaths

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def dagster_instance(paths: DataPaths) -> dg.DagsterInstance:
    """The data directory's Dagster home, so runs started here also show in `make ui`."""
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_CONFIG, paths.dagster_home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(paths.dagster_home))
