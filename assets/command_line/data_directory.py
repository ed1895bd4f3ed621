"""The data directory as the read-only commands need it: with a warehouse built already."""

from __future__ import annotations

from warehouse.paths import DataPaths


def built_data_directory() -> DataPaths:
    """`$CREDIT_DATA_DIR` (default ./data), which must hold a warehouse; nothing is created."""
    paths = DataPaths.from_env()
    if not paths.warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {paths.warehouse}: run `credit run YYYY-MM` or `make demo` first")
    return paths
