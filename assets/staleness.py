"""Deliveries loaded outside a run (`credit load`) are recorded in Dagster too.

A run records the raw assets with a data version made of the sha256 of their files. When
`credit load` replaces a file between runs, this records a materialisation of each
affected raw partition with the new version, so Dagster shows the features, model and
predictions built from the old file as stale until the month is materialised again.
Month M's applications version covers every month file dated M or earlier, so a
correction of an earlier month marks every later month stale as well.
"""

from __future__ import annotations

from assets.raw_deliveries import record_new_data_versions
from assets.month_runs import dagster_instance
from warehouse.database import connect
from warehouse.paths import DataPaths


def record_loads_outside_runs(paths: DataPaths) -> list[str]:
    """Record new data versions of materialised raw partitions whose files changed; returns what was recorded."""
    if not (paths.dagster_home / "dagster.yaml").exists() or not paths.warehouse.exists():
        return []  # Dagster has never run on this data directory: nothing can be stale
    with dagster_instance(paths) as instance, connect(paths.warehouse, read_only=True) as connection:
        return record_new_data_versions(instance, connection, "delivery loaded outside a run (credit load)")
