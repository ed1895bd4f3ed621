"""`credit load FILE`: check one delivery and load it, or quarantine it with its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assets.command_line.exit_codes import EXIT_REJECTED
from assets.engines import warehouse_engine
from assets.staleness import record_loads_outside_runs
from warehouse.ingestion.loader import DeliveryRejected
from warehouse.paths import DataPaths


def _progress(message: str) -> None:
    print(message, flush=True)


def load(args: argparse.Namespace) -> int:
    paths = DataPaths.from_env().create()
    try:
        result = warehouse_engine(paths).load_delivery(Path(args.file), progress=_progress)
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
