"""A month's results on Spark, readable by the SQL written for DuckDB: the outbox, checks and report.

The steps after scoring (the outbox CSV, the monitoring checks, the month's HTML report) read
a month's predictions and monitoring rows with DuckDB SQL. On Spark, those rows (thousands,
never the history) come to the driver as Arrow and sit in an in-memory DuckDB under the
same names, so one query serves either engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from warehouse.month_tables import EVERY_RESULT, checked_tables
from warehouse.publishing.bi_copy import MONTH_COLUMN
from warehouse.publishing.predictions_table import LABELS_KNOWN_TODAY
from warehouse.spark.bi_copy import naive_utc
from warehouse.spark.marts import FEATURE_TABLE


def month_results(spark: SparkSession, month: date, tables: Sequence[str] = EVERY_RESULT) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the month's rows of those `tables` (of `EVERY_RESULT`) that Spark has.

    `intermediate.int_labels_known_today` holds the labels known of the month's applications
    only. The caller closes the connection.
    """
    tables = checked_tables(tables)
    connection = duckdb.connect()
    try:
        for table in tables:
            if not spark.catalog.tableExists(table):
                continue  # not built yet: the DuckDB warehouse would lack it too
            rows = spark.table(table)
            if table == LABELS_KNOWN_TODAY:
                if not spark.catalog.tableExists(FEATURE_TABLE):
                    continue
                applications = spark.table(FEATURE_TABLE).where(F.col(MONTH_COLUMN) == F.lit(month))
                rows = rows.join(applications.select("sk_id_curr"), "sk_id_curr")
            else:
                rows = rows.where(F.col(MONTH_COLUMN) == F.lit(month))
            _create(connection, table, rows)
    except BaseException:
        connection.close()
        raise
    return connection


def _create(connection: duckdb.DuckDBPyConnection, table: str, rows) -> None:
    schema, _ = table.split(".")
    arrow = naive_utc(rows.toArrow())  # noqa: F841 - read by DuckDB's replacement scan below
    connection.execute(f"create schema if not exists {schema}")
    # Names from EVERY_RESULT (checked by the caller): never from a file or a user.
    connection.execute(f"create table {table} as select * from arrow")
