"""The DuckDB warehouse: connection, raw schema and safe identifiers.

SQL in this project takes values as bound parameters. Identifiers (column and table
names) cannot be bound, so each one passes `quote_identifier`, which accepts only plain
names; the names themselves come from the raw-file contract or the feature mart.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from warehouse.contract import COLUMNS

_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnsafeIdentifierError(ValueError):
    """A name that would not be safe to place in SQL."""


def quote_identifier(name: str) -> str:
    if not _PLAIN_IDENTIFIER.match(name):
        raise UnsafeIdentifierError(f"{name!r} is not a plain SQL identifier")
    return f'"{name}"'


def raw_column_name(contract_name: str) -> str:
    """Raw tables use the contract's names in lower case, like every other layer."""
    return contract_name.lower()


def _applications_ddl() -> str:
    columns = ",\n    ".join(
        f"{quote_identifier(raw_column_name(name))} {sql_type}" for name, sql_type in COLUMNS
    )
    return (
        "create table if not exists raw.applications (\n    "
        + columns
        + ",\n    delivery_file varchar not null,"
        + "\n    application_month date,"
        + "\n    loaded_at timestamp not null\n)"
    )


LEDGER_DDL = """
create table if not exists raw.load_ledger (
    delivery_file varchar not null,
    application_month date,
    status varchar not null,
    row_count bigint,
    sha256 varchar not null,
    source_path varchar not null,
    message varchar,
    loaded_at timestamp not null
)
"""

PREDICTIONS_DDL = """
create table if not exists marts.predictions (
    sk_id_curr bigint not null,
    application_month date not null,
    default_probability double not null,
    risk_grade varchar not null,
    decision varchar not null,
    model_version varchar not null,
    scored_at timestamp not null
)
"""


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and marts schemas and the tables Python writes to, if they are missing."""
    connection.execute("create schema if not exists raw")
    connection.execute("create schema if not exists marts")
    connection.execute(_applications_ddl())
    connection.execute(LEDGER_DDL)
    connection.execute(PREDICTIONS_DDL)


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that is always closed, so the single-writer lock is released for dbt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path), read_only=read_only)
    try:
        # The bar is for interactive shells; in logs it is noise.
        connection.execute("set enable_progress_bar = false")
        if not read_only:
            ensure_schema(connection)
        yield connection
    finally:
        connection.close()


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Commit on success, roll back on any error: a write lands whole or not at all."""
    connection.begin()
    try:
        yield connection
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
