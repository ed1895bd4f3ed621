"""The data directory's Dagster instance, where runs started from the command line are recorded."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from warehouse.atomic_files import atomic_write_text
from warehouse.paths import DataPaths

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def dagster_instance(paths: DataPaths) -> dg.DagsterInstance:
    """The data directory's Dagster home, so runs started here also show in `make ui`."""
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    settings, wanted = paths.dagster_home / "dagster.yaml", INSTANCE_CONFIG.read_text(encoding="utf-8")
    # `make ui` may be reading it: replaced whole, and only when it differs.
    if not settings.exists() or settings.read_text(encoding="utf-8") != wanted:
        atomic_write_text(settings, wanted)
    return dg.DagsterInstance.from_config(str(paths.dagster_home))
