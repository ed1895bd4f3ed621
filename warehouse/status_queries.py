"""What the warehouse says about the operation: deliveries loaded, the latest warnings."""

from __future__ import annotations

import duckdb

from warehouse.database import has_table
from warehouse.ingestion.ledger import CURRENT_VERSIONS_SQL
from warehouse.monitoring_warnings import WarningsNotComputed, month_warnings


def deliveries(connection: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(file, kind, month, rows, sha256, loaded_at) of each delivery's current version."""
    return connection.execute(
        f"select delivery_file, kind, delivery_month, row_count, sha256, loaded_at from ({CURRENT_VERSIONS_SQL})"
    ).fetchall()


def rejected_count(connection: duckdb.DuckDBPyConnection) -> int:
    return connection.execute("select count(*) from raw.load_ledger where status = 'rejected'").fetchall()[0][0]


def latest_warnings(connection: duckdb.DuckDBPyConnection) -> tuple[object, list[str] | None]:
    """The latest monitored month and its warnings (drift, fairness, performance, new values), in words.

    The month is the latest with drift figures; its warnings are None when they were not computed
    (the monitoring build stopped after writing the figures, see `warehouse.monitoring_warnings`); [] when none warned.
    """
    if not has_table(connection, "monitoring", "drift"):
        return None, []
    [(month,)] = connection.execute("select max(application_month) from monitoring.drift").fetchall()
    if month is None:
        return None, []
    try:
        found = month_warnings(connection, month)
    except WarningsNotComputed:
        return month, None
    return month, [f"{warning.kind}: {warning.message}" for warning in found]
