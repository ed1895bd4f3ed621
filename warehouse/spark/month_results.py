"""A month's results on Spark, readable by the SQL written for DuckDB: the outbox, checks and report.

The steps after scoring (the outbox CSV, the monitoring checks, the month's HTML report) read
a month's predictions and monitoring rows with DuckDB SQL. On Spark, those rows (thousands,
never the history) come to the driver as Arrow and sit in an in-memory DuckDB under the
same names, so one query serves either engine.
"""

from __future__ import annotations

from datetime import date

import duckdb
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from warehouse.publishing.bi_copy import MONTH_COLUMN
from warehouse.publishing.predictions_table import LABELS_KNOWN_TODAY
from warehouse.spark.bi_copy import naive_utc

FEATURE_TABLE = "marts.fct_application_features"

# Tables of one month's results: their rows of the month (all rows where a table has no month).
MONTH_TABLES = (
    "scoring.predictions",
    "monitoring.drift",
    "monitoring.fairness",
    "monitoring.performance",
    "monitoring.performance_by_grade",
    "monitoring.unseen_levels",
    "monitoring.monitoring_warnings",
    "monitoring.monitoring_months_evaluated",
)


def month_results(spark: SparkSession, month: date) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the month's rows of `MONTH_TABLES` that exist, and the month's labels.

    `intermediate.int_labels_known_today` holds the labels known of the month's applications
    only. The caller closes the connection.
    """
    connection = duckdb.connect()
    try:
        for table in MONTH_TABLES:
            if spark.catalog.tableExists(table):
                rows = spark.table(table)
                if MONTH_COLUMN in rows.columns:
                    rows = rows.where(F.col(MONTH_COLUMN) == F.lit(month))
                _create(connection, table, rows)
        if spark.catalog.tableExists(LABELS_KNOWN_TODAY) and spark.catalog.tableExists(FEATURE_TABLE):
            applications = spark.table(FEATURE_TABLE).where(F.col(MONTH_COLUMN) == F.lit(month)).select("sk_id_curr")
            _create(connection, LABELS_KNOWN_TODAY, spark.table(LABELS_KNOWN_TODAY).join(applications, "sk_id_curr"))
    except BaseException:
        connection.close()
        raise
    return connection


def _create(connection: duckdb.DuckDBPyConnection, table: str, rows) -> None:
    schema, _ = table.split(".")
    arrow = naive_utc(rows.toArrow())  # noqa: F841 - read by DuckDB's replacement scan below
    connection.execute(f"create schema if not exists {schema}")
    # Names from MONTH_TABLES and the label view's constant: never from a file or a user.
    connection.execute(f"create table {table} as select * from arrow")
