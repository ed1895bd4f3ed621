"""`raw.model_definitions`: the definition each incremental dbt model was last built from.

An incremental model adds the rows of new deliveries to what it holds. Rows built under an
older definition would stay as they were, so the month's run compares the definition it is
about to build with the one recorded here and rebuilds a model whole when they differ
(`assets/dbt_definitions.py`). Written by Python after a build dbt reported successful.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from warehouse.database import has_table, transaction


def recorded_definitions(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The definition checksum each incremental model was last built from, by dbt unique id."""
    if not has_table(connection, "raw", "model_definitions"):
        return {}  # a warehouse opened read-only before any build recorded one
    return dict(connection.execute("select model, definition_sha256 from raw.model_definitions").fetchall())


def record_definitions(connection: duckdb.DuckDBPyConnection, definitions: dict[str, str], built_at: datetime) -> None:
    """Record the definitions these models were just built from, replacing what was recorded, in one transaction."""
    with transaction(connection):
        _delete(connection, sorted(definitions))
        for model, checksum in sorted(definitions.items()):
            connection.execute("insert into raw.model_definitions values (?, ?, ?)", [model, checksum, built_at])


def forget_definitions(connection: duckdb.DuckDBPyConnection, models: list[str]) -> None:
    """Drop the record of these models: their next build rebuilds them whole."""
    with transaction(connection):
        _delete(connection, models)


def _delete(connection: duckdb.DuckDBPyConnection, models: list[str]) -> None:
    for model in models:
        connection.execute("delete from raw.model_definitions where model = ?", [model])
