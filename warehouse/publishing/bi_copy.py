"""The read-only path for BI: Parquet files per month and a small DuckDB file of views over them.

BI tools never open the warehouse, so they can never hold its lock while a run writes.
After each run the tables BI reads are copied out:

    serving/parquet/<table>/application_month=YYYY-MM-01/data.parquet   (one file per month)
    serving/parquet/model_registry/data.parquet
    serving/credit_bi.duckdb                                             (views over those files)

Every file is written with `atomic_write` (a hidden temporary name, then a rename), so a reader
sees a month's old file or its new one, never part of one; a reader that has a file open
keeps reading the version it opened. Tables are replaced one after another: a read may see
next month in one table a moment before another. The serving DuckDB file is rebuilt the same way and
written in DuckDB's v1.0.0 storage format, so BI tools on older DuckDB versions open it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import duckdb

from warehouse.atomic_files import atomic_write

SERVING_DATABASE = "credit_bi.duckdb"
PARQUET_FOLDER = "parquet"
MONTH_COLUMN = "application_month"
STORAGE_VERSION = "v1.0.0"
REGISTRY_TABLE = "model_registry"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_QUALIFIED = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class ServedTable:
    name: str  # the view's name in the serving database
    source: str  # the warehouse table it is copied from
    by_month: bool  # one Parquet file per application month
    every_month: bool = False  # republish all months each run (their figures change as outcomes arrive)

    def __post_init__(self) -> None:
        # Both names are written into SQL and paths: only plain (schema-qualified) identifiers.
        if not _IDENTIFIER.fullmatch(self.name) or not _QUALIFIED.fullmatch(self.source):
            raise ValueError(f"not a plain table name: {self.name!r} / {self.source!r}")


SERVED_TABLES = (
    ServedTable("predictions", "scoring.predictions", by_month=True),
    # Every month too: a change of drift's definition recomputes every month's figures (a whole rebuild).
    ServedTable("drift", "monitoring.drift", by_month=True, every_month=True),
    ServedTable("fairness", "monitoring.fairness", by_month=True, every_month=True),
    # Small, and empty in most months: one file, always there, so BI always finds the view.
    ServedTable("unseen_levels", "monitoring.unseen_levels", by_month=False),
    ServedTable("performance", "monitoring.performance", by_month=True, every_month=True),
    ServedTable("performance_by_grade", "monitoring.performance_by_grade", by_month=True, every_month=True),
    # Small, often empty, and changed in earlier months as outcomes arrive: one file, always there.
    ServedTable("monitoring_warnings", "monitoring.monitoring_warnings", by_month=False),
    ServedTable(REGISTRY_TABLE, "scoring.model_registry", by_month=False),
)


class ServedSource(Protocol):
    """The warehouse the copy is taken from: DuckDB here, Spark in `warehouse/spark/bi_copy.py`."""

    def months(self, source: str) -> list[date]:
        """The application months `source` holds rows for, in order."""

    def write(self, source: str, month: date | None, temporary: Path) -> int:
        """Write `source` (one month of it, without the month column, or all of it) as Parquet; its rows."""


@dataclass(frozen=True)
class DuckDBSource:
    connection: duckdb.DuckDBPyConnection

    def months(self, source: str) -> list[date]:
        rows = self.connection.execute(f"select distinct {MONTH_COLUMN} from {source} order by 1").fetchall()
        return [row[0] for row in rows]

    def write(self, source: str, month: date | None, temporary: Path) -> int:
        if month is None:
            relation = self.connection.sql(f"select * from {source}")
        else:
            # The month lives in the folder name (Hive style), not in the file.
            relation = self.connection.sql(
                f"select * exclude ({MONTH_COLUMN}) from {source} where {MONTH_COLUMN} = ?", params=[month]
            )
        relation.write_parquet(str(temporary), compression="zstd")
        return relation.count("*").fetchall()[0][0]


def _write_parquet(source: ServedSource, table: str, month: date | None, final: Path) -> int:
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(final) as temporary:
        return source.write(table, month, temporary)


def _month_file(root: Path, table: str, month: date) -> Path:
    return root / PARQUET_FOLDER / table / f"{MONTH_COLUMN}={month:%Y-%m-%d}" / "data.parquet"


def publish(source: ServedSource, month: date, root: Path) -> dict[str, int]:
    """Copy month M (and the tables whose every month changes) out of the warehouse; returns rows per table."""
    published = {}
    for table in SERVED_TABLES:
        if not table.by_month:
            published[table.name] = _write_parquet(source, table.source, None, _table_file(root, table.name))
            continue
        months = source.months(table.source) if table.every_month else [month]
        published[table.name] = sum(
            _write_parquet(source, table.source, each, _month_file(root, table.name, each)) for each in months
        )
    write_serving_database(root)
    return published


def _table_file(root: Path, name: str) -> Path:
    return root / PARQUET_FOLDER / name / "data.parquet"


def publish_table(connection: duckdb.DuckDBPyConnection, name: str, root: Path) -> int:
    """Copy out one table that is not kept by month (the registry after a model is registered); returns its rows."""
    [table] = [table for table in SERVED_TABLES if table.name == name and not table.by_month]
    rows = _write_parquet(DuckDBSource(connection), table.source, None, _table_file(root, table.name))
    if not (root / SERVING_DATABASE).exists():
        write_serving_database(root)
    return rows


def _view_sql(root: Path, table: ServedTable) -> str:
    folder = (root / PARQUET_FOLDER / table.name).resolve()
    if not table.by_month:
        return f"create view {table.name} as select * from read_parquet('{folder / 'data.parquet'}')"
    pattern = folder / "*" / "data.parquet"
    return (
        f"create view {table.name} as select * from read_parquet('{pattern}', "
        f"hive_partitioning = true, hive_types = {{'{MONTH_COLUMN}': DATE}})"
    )


def write_serving_database(root: Path) -> Path:
    """A DuckDB file holding only views over the Parquet files (no data), replaced whole."""
    if "'" in str(root.resolve()):
        raise ValueError(f"{root}: a data directory path with a quote cannot be written into the serving views")
    final = root / SERVING_DATABASE
    present = [table for table in SERVED_TABLES if (root / PARQUET_FOLDER / table.name).is_dir()]
    # Closed before the rename: closing checkpoints, so the renamed file needs no write-ahead log.
    with atomic_write(final) as temporary:
        with duckdb.connect(str(temporary), config={"storage_compatibility_version": STORAGE_VERSION}) as serving:
            for table in present:
                # Paths are ours (the data directory), never a file name from a delivery.
                serving.execute(_view_sql(root, table))
    return final
