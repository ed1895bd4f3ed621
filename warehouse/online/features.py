"""Feature rows for applications that are not in the warehouse, from the feature mart's own SQL.

The staging model and the feature mart are compiled by dbt (against an empty in-memory
database, so the mart compiles as a whole build, not an incremental one). Their compiled SQL
is what runs here, on the request's rows:

- `DuckDbFeatures` runs it as it is, on an in-memory DuckDB holding the rows in
  `raw.applications` and staging as a view: the reference, and the engine for large batches;
- `RowFeatures` evaluates the same SQL row by row, translated into a Python function
  (`warehouse.online.row_sql`), which avoids DuckDB's fixed cost of about 30 ms a query. It is
  used only after it gave exactly DuckDB's answer on probe rows built from every value the SQL
  names (`verify`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.database import applications_ddl, raw_column_name
from warehouse.ingestion.contract import COLUMNS, FLOAT, INTEGER, TEXT
from warehouse.online.row_sql import RowFunction, UnsupportedSql, compile_query

RAW_RELATION = "raw.applications"
STAGING_RELATION = "staging.stg_home_credit__applications"
RAW_TYPES = {raw_column_name(name): sql_type for name, sql_type in COLUMNS}
# What the loader adds to every row: the mart carries them through, never as features.
LOAD_COLUMNS = ("delivery_file", "application_month", "loaded_at")
ONLINE_DELIVERY = "online"


@dataclass(frozen=True)
class FeatureSql:
    """The compiled SQL of staging and of the feature mart, as dbt's manifest holds it."""

    staging: str
    mart: str
    database: str  # the database name the compiled SQL qualifies its relations with


@dataclass(frozen=True)
class Applications:
    """Checked rows of the raw-file contract, typed: one list per raw column (lower-case names)."""

    values: dict[str, list]
    month: date
    received_at: datetime

    @property
    def rows(self) -> int:
        return len(self.values["sk_id_curr"])


def _strip_database(name: str, database: str) -> str:
    prefix = f"{database}."
    return name.removeprefix(prefix)


class DuckDbFeatures:
    """The compiled SQL run as it is, on an in-memory DuckDB; one query at a time."""

    def __init__(self, sql: FeatureSql):
        self.sql = sql
        self._lock = threading.Lock()
        self._connection = duckdb.connect(":memory:", config={"threads": 1})
        if sql.database != "memory":
            raise ValueError(f"the online SQL must be compiled against an in-memory database, not {sql.database!r}")
        for schema in ("raw", "staging", "marts"):
            self._connection.execute(f"create schema {schema}")
        self._connection.execute(applications_ddl())
        self._connection.execute(f"create view {STAGING_RELATION} as {sql.staging}")
        # Only an incremental compile reads the mart itself; an empty table keeps such SQL valid.
        self._connection.execute(
            "create table marts.fct_application_features (delivery_file varchar, loaded_at timestamp)"
        )

    def frame(self, applications: Applications) -> pd.DataFrame:
        table = pa.table(_raw_arrays(applications))
        with self._lock:
            self._connection.execute("delete from raw.applications")
            self._connection.register("request_rows", table)
            try:
                self._connection.execute("insert into raw.applications by name select * from request_rows")
            finally:
                self._connection.unregister("request_rows")
            frame = self._connection.execute(self.sql.mart).df()
            self._connection.execute("delete from raw.applications")
        return frame

    def close(self) -> None:
        self._connection.close()


def _raw_arrays(applications: Applications) -> dict[str, pa.Array]:
    arrays = {}
    for name, sql_type in RAW_TYPES.items():
        values = applications.values.get(name, [None] * applications.rows)
        arrow_type = {INTEGER: pa.int64(), FLOAT: pa.float64(), TEXT: pa.string()}[sql_type]
        arrays[name] = pa.array(values, type=arrow_type)
    arrays["delivery_file"] = pa.array([ONLINE_DELIVERY] * applications.rows, type=pa.string())
    arrays["application_month"] = pa.array([applications.month] * applications.rows, type=pa.date32())
    arrays["loaded_at"] = pa.array([applications.received_at] * applications.rows, type=pa.timestamp("us"))
    return arrays


class RowFeatures:
    """The compiled SQL evaluated row by row (`warehouse.online.row_sql`); raises UnsupportedSql if it cannot be."""

    def __init__(self, sql: FeatureSql):
        staging, mart = compile_query(sql.staging), compile_query(sql.mart)
        staging_reads = _strip_database(staging.reads, sql.database)
        mart_reads = _strip_database(mart.reads, sql.database)
        if staging_reads != RAW_RELATION or mart_reads != STAGING_RELATION:
            raise UnsupportedSql(
                f"staging reads {staging_reads} and the mart {mart_reads}:"
                f" expected {RAW_RELATION} and {STAGING_RELATION}"
            )
        self.function = RowFunction.build(staging.steps + mart.steps, (*RAW_TYPES, *LOAD_COLUMNS))

    def frame(self, applications: Applications) -> pd.DataFrame:
        rows = applications.rows
        loaded = {
            "delivery_file": [ONLINE_DELIVERY] * rows,
            "application_month": [pd.Timestamp(applications.month)] * rows,
            "loaded_at": [pd.Timestamp(applications.received_at)] * rows,
        }
        columns = [applications.values.get(name, [None] * rows) for name in RAW_TYPES]
        columns += [loaded[name] for name in LOAD_COLUMNS]
        results = self.function.evaluate(zip(*columns, strict=True))
        return _frame(self.function.outputs, results)


def _is_number(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _frame(names: tuple[str, ...], results: list[tuple]) -> pd.DataFrame:
    """Rows of results as a DataFrame in the query's column order: numbers as one float block, NULL as NaN."""
    by_column = list(zip(*results, strict=True)) if results else [() for _ in names]
    numbers = [index for index, values in enumerate(by_column) if all(_is_number(value) for value in values)]
    block = np.array(
        [[np.nan if value is None else value for value in by_column[index]] for index in numbers], dtype=np.float64
    ).T.reshape(len(results), len(numbers))
    # An object Index: pandas' string Index costs more to look 264 features up in than the lookups save.
    frame = pd.DataFrame(block, columns=pd.Index([names[index] for index in numbers], dtype=object), copy=False)
    numeric = set(numbers)
    for position, values in enumerate(by_column):
        if position not in numeric:
            # Object columns: pandas' inferred string columns cost more than the whole row here.
            frame.insert(position, names[position], pd.Series(list(values), dtype=object))
    return frame


def probe_applications(sql: FeatureSql, month: date, received_at: datetime) -> Applications:
    """Rows that take every branch of the SQL: each value it names, NULL, and values it does not name.

    Every string and number written in the staging or mart SQL is a value some CASE, IN or
    NULLIF compares against; each column cycles through all of them, so each comparison is
    met true, false and NULL.
    """
    from sqlglot import exp, parse_one

    strings, numbers = {"a value never seen"}, {0.0, 1.0, -7.0, 2.5, 1e6}
    for text in (sql.staging, sql.mart):
        for literal in parse_one(text, dialect="duckdb").find_all(exp.Literal):
            (strings if literal.is_string else numbers).add(literal.this if literal.is_string else float(literal.this))
    text_values = [None, *sorted(strings)]
    number_values = [None, *sorted(numbers)]
    rows = max(len(text_values), len(number_values)) * 2
    values: dict[str, list] = {}
    for offset, (name, sql_type) in enumerate(RAW_TYPES.items()):
        pool = text_values if sql_type == TEXT else number_values
        column = [pool[(row + offset) % len(pool)] for row in range(rows)]
        if sql_type == INTEGER:
            column = [None if value is None else int(value) for value in column]
        values[name] = column
    # And a row with every value missing, and one with every number zero: each column's NULL
    # and zero meet every other's (a mean of three scores, all missing, divides by zero).
    for name, sql_type in RAW_TYPES.items():
        values[name] += [None, None if sql_type == TEXT else 0]
    values["sk_id_curr"] = list(range(1, rows + 3))
    return Applications(values, month, received_at)


def differences(expected: pd.DataFrame, actual: pd.DataFrame) -> list[str]:
    """Where two feature frames disagree (column names, NULLs or values), in words; [] if they agree."""
    if list(expected.columns) != list(actual.columns):
        missing = [c for c in expected.columns if c not in actual.columns]
        extra = [c for c in actual.columns if c not in expected.columns]
        return [f"columns differ: missing {missing[:5]}, extra {extra[:5]}, or in another order"]
    found = []
    for name in expected.columns:
        want, got = expected[name], actual[name]
        want_null, got_null = want.isna().to_numpy(), got.isna().to_numpy()
        if not np.array_equal(want_null, got_null):
            found.append(f"{name}: NULL on other rows")
            continue
        present = ~want_null
        a, b = want.to_numpy()[present], got.to_numpy()[present]
        if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
            equal = np.array_equal(a.astype(np.float64), b.astype(np.float64))
        else:
            equal = all(_same(x, y) for x, y in zip(a, b, strict=True))
        if not equal:
            found.append(f"{name}: other values")
    return found


def _same(a, b) -> bool:
    if isinstance(a, bool | np.bool_) or isinstance(b, bool | np.bool_):
        return bool(a) == bool(b)
    if isinstance(a, int | float | np.number) and isinstance(b, int | float | np.number):
        return float(a) == float(b)
    return pd.Timestamp(a) == pd.Timestamp(b) if isinstance(a, date | datetime | pd.Timestamp) else a == b


def verify(reference: DuckDbFeatures, candidate: RowFeatures, month: date, received_at: datetime) -> list[str]:
    """The row-by-row evaluator's differences from DuckDB on the probe rows; [] means it may be used."""
    probe = probe_applications(reference.sql, month, received_at)
    try:
        evaluated = candidate.frame(probe)
    except Exception as error:  # e.g. a comparison Python cannot make between two types SQL casts
        return [f"the evaluator failed on the probe rows: {error!r}"]
    return differences(reference.frame(probe), evaluated)
