"""`credit status`: deliveries loaded, where each month stands, the champion model and the latest warnings.

It reads the warehouse and the Dagster instance's records (its SQLite files, see assets/run_records.py),
never the asset definitions, so it answers in well under a second: no dagster, no dbt manifest, no model libraries.
"""

from __future__ import annotations

import argparse

from assets.command_line.data_directory import built_data_directory
from assets.run_records import month_states
from ml.champion import champion_as_of
from warehouse import status_queries
from warehouse.database import connect
from warehouse.engine_setting import DEFAULT_ENGINE, held_engine
from warehouse.monitoring_warnings import not_computed_message


def status(args: argparse.Namespace) -> int:
    paths = built_data_directory()
    with connect(paths.warehouse, read_only=True) as connection:
        deliveries = status_queries.deliveries(connection)
        rejected = status_queries.rejected_count(connection)
        champion = champion_as_of(connection)
        monitored, warnings = status_queries.latest_warnings(connection)
    print(f"data directory {paths.root}\n\ndeliveries loaded ({rejected} rejected, see {paths.quarantine}):")
    for file_name, kind, _month, rows, sha256, loaded_at in deliveries:
        print(f"  {file_name:<24} {kind:<12} {rows:>9,} rows  sha256 {sha256[:12]}  loaded {loaded_at:%Y-%m-%d %H:%M}")
    print("\nmonths:")
    for state in month_states(paths):
        print(f"  {state.month}  {state.state:<33} {('run ' + state.run_id[:8]) if state.run_id else ''}".rstrip())
    if champion:
        trained = f"trained for {champion[1]:%Y-%m}, validation AUC {champion[2]:.4f}"
        print(f"\nchampion model: {champion[0]} ({trained})")
    else:
        print("\nchampion model: none yet")
    engine = held_engine(paths.root, paths.warehouse)
    if engine != DEFAULT_ENGINE:
        # The monitoring tables are in Spark's catalog, which one process at a time may open.
        print(f"monitoring: on {engine}; `credit report YYYY-MM` draws a month's figures and warnings")
    elif monitored is None:
        print("monitoring: nothing monitored yet")
    elif warnings is None:
        print(not_computed_message(monitored))
    else:
        print(f"warnings of {monitored:%Y-%m}:" + ("" if warnings else " none"))
        for warning in warnings:
            print(f"  {warning}")
    return 0
