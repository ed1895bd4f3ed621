"""`credit load FILE`: check one delivery and load it, or quarantine it with its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assets.command_line.exit_codes import EXIT_REJECTED
from assets.staleness import record_loads_outside_runs
from warehouse.engine_setting import DEFAULT_ENGINE, engine_name, pin_engine
from warehouse.ingestion.loader import DeliveryRejected, LoadResult, load_delivery
from warehouse.paths import DataPaths


def _progress(message: str) -> None:
    print(message, flush=True)


def _load(path: Path, paths: DataPaths) -> LoadResult:
    """Into the engine `$CREDIT_ENGINE` names; DuckDB's loader without the engines' imports (scoring, Spark)."""
    name = engine_name()
    if name != DEFAULT_ENGINE:
        from assets.engines import warehouse_engine

        return warehouse_engine(paths).load_delivery(path, progress=_progress)
    pin_engine(paths.root, paths.warehouse, name)
    return load_delivery(path, paths, progress=_progress)


def load(args: argparse.Namespace) -> int:
    paths = DataPaths.from_env().create()
    try:
        result = _load(Path(args.file), paths)
    except DeliveryRejected as rejected:
        print(str(rejected), file=sys.stderr)
        return EXIT_REJECTED
    print(result.describe())
    if result.status != "unchanged":
        for recorded in record_loads_outside_runs(paths):
            print(
                f"recorded in Dagster: {recorded} has new data; what was built from it is stale until re-materialised"
            )
    return 0
