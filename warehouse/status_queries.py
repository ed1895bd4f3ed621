"""What the warehouse says about the operation: deliveries loaded, the champion model, the latest warnings."""

from __future__ import annotations

import duckdb

from warehouse.ingestion.ledger import CURRENT_VERSIONS_SQL
from warehouse.monitoring_thresholds import APPROVAL_RATIO_WARNING, PSI_WARNING


def has_table(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return connection.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
    ).fetchall()[0][0] > 0


def deliveries(connection: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(file, kind, month, rows, sha256, loaded_at) of each delivery's current version."""
    return connection.execute(
        f"select delivery_file, kind, delivery_month, row_count, sha256, loaded_at from ({CURRENT_VERSIONS_SQL})"
    ).fetchall()


def rejected_count(connection: duckdb.DuckDBPyConnection) -> int:
    return connection.execute("select count(*) from raw.load_ledger where status = 'rejected'").fetchall()[0][0]


def champion(connection: duckdb.DuckDBPyConnection) -> tuple | None:
    """(version, training month, validation AUC) of the newest champion."""
    rows = connection.execute(
        "select version, training_month, validation_auc from scoring.model_registry"
        " where status = 'champion' order by training_month desc, registered_at desc limit 1"
    ).fetchall()
    return rows[0] if rows else None


def describe_fairness_flag(column: str, value: str, ratio: float, reference: str) -> str:
    return f"{column} {value} approval-rate ratio {ratio:.2f} (reference group {reference})"


def describe_unseen_level(column: str, value: str, applications: int) -> str:
    return f"{column} {value!r} never seen before ({applications:,} application{'s' if applications != 1 else ''})"


def unseen_levels(connection: duckdb.DuckDBPyConnection, month) -> list[tuple[str, str, int]]:
    """(column, value, applications) of each value the month's applications carry that was never seen before."""
    if not has_table(connection, "monitoring", "unseen_levels"):
        return []
    return connection.execute(
        "select column_name, value, applications from monitoring.unseen_levels where application_month = ?"
        " order by column_name, applications desc, value",
        [month],
    ).fetchall()


def latest_warnings(connection: duckdb.DuckDBPyConnection) -> tuple[object, list[str]]:
    """The latest monitored month and its drift, fairness and new-value warnings, in words."""
    if not has_table(connection, "monitoring", "drift"):
        return None, []
    [(month,)] = connection.execute("select max(application_month) from monitoring.drift").fetchall()
    if month is None:
        return None, []
    warnings = [
        f"drift: {subject} PSI {psi:.2f}"
        for subject, psi in connection.execute(
            "select subject, psi from monitoring.drift where application_month = ? and psi > ? order by psi desc",
            [month, PSI_WARNING],
        ).fetchall()
    ]
    if has_table(connection, "monitoring", "fairness"):
        warnings += [
            "fairness: " + describe_fairness_flag(column, value, ratio, reference)
            for column, value, ratio, reference in connection.execute(
                "select group_column, group_value, approval_rate_ratio, reference_group from monitoring.fairness"
                " where application_month = ? and judged and approval_rate_ratio < ? order by group_column, group_value",
                [month, APPROVAL_RATIO_WARNING],
            ).fetchall()
        ]
    warnings += ["new value: " + describe_unseen_level(*row) for row in unseen_levels(connection, month)]
    return month, warnings
