"""The tables Python writes on Spark: raw deliveries and outcomes, the predictions, and a copy of the registry.

dbt owns `staging`, `marts` and `monitoring` on Spark too, and reads these as sources. The
model registry itself, with its models' feature baselines, stays in the DuckDB file, whose
transactions the champion/challenger rule needs (`ml/registry.py`); Spark holds a copy of both
for the monitoring models, replaced whole.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from warehouse.database import raw_column_name
from warehouse.ingestion.contract import COLUMNS, FLOAT, INTEGER, TEXT

SPARK_TYPES = {INTEGER: "bigint", FLOAT: "double", TEXT: "string"}

# Partitioned by delivery: loading a delivery again overwrites its partition, and no other.
APPLICATIONS_DDL = (
    "create table if not exists raw.applications ("
    + ", ".join(f"`{raw_column_name(name)}` {SPARK_TYPES[sql_type]}" for name, sql_type in COLUMNS)
    + ", application_month date, loaded_at timestamp, delivery_file string)"
    + " using parquet partitioned by (delivery_file)"
)

OUTCOMES_DDL = """
create table if not exists raw.outcomes (
    sk_id_curr bigint, target bigint, known_from date, loaded_at timestamp, delivery_file string
) using parquet partitioned by (delivery_file)
"""

PREDICTIONS_DDL = """
create table if not exists scoring.predictions (
    sk_id_curr bigint,
    default_probability double,
    risk_grade string,
    decision string,
    reason_code_1 string, reason_code_2 string, reason_code_3 string, reason_code_4 string,
    reason_1 string, reason_2 string, reason_3 string, reason_4 string,
    model_version string,
    review_from double,
    decline_from double,
    scored_at timestamp,
    application_month date
) using parquet partitioned by (application_month)
"""

# The columns of `warehouse.database.MODEL_REGISTRY_DDL`, in its order.
MODEL_REGISTRY_DDL = """
create table if not exists scoring.model_registry (
    version string,
    training_month date,
    validation_month date,
    params string,
    validation_auc double,
    champion_version string,
    champion_validation_auc double,
    training_fingerprint string,
    model_sha256 string,
    status string,
    decision_reason string,
    registered_at timestamp,
    score_bin_upper_bounds array<double>,
    score_bin_shares array<double>,
    excluded_attributes string,
    windows string,
    model_path string,
    swap_set string
) using parquet
"""


# The columns of `warehouse.database.FEATURE_BASELINES_DDL`, in its order.
FEATURE_BASELINES_DDL = """
create table if not exists scoring.feature_baselines (
    version string,
    feature string,
    feature_kind string,
    bins array<string>,
    shares array<double>,
    cuts array<double>,
    reference_rows bigint
) using parquet
"""

# The DuckDB tables Spark keeps a copy of (`replace_copy`).
COPIED_TABLES = ("scoring.model_registry", "scoring.feature_baselines")


def ensure_schema(spark: SparkSession) -> None:
    for schema in ("raw", "scoring"):
        spark.sql(f"create database if not exists {schema}")
    for statement in (APPLICATIONS_DDL, OUTCOMES_DDL, PREDICTIONS_DDL, MODEL_REGISTRY_DDL, FEATURE_BASELINES_DDL):
        spark.sql(statement)


def table_columns(spark: SparkSession, table: str) -> list[str]:
    """The table's columns in its own order: what `insertInto`, which writes by position, must follow."""
    return spark.table(table).columns


def overwrite_partitions(spark: SparkSession, frame: DataFrame, table: str) -> None:
    """Replace the partitions `frame` has rows for, and only those (a delivery's, a month's).

    Spark's default overwrite truncates the whole table: the mode is set here, on the write and
    the session, whatever session the engine was given.
    """
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    writer = frame.select(*table_columns(spark, table)).write.option("partitionOverwriteMode", "dynamic")
    writer.insertInto(table, overwrite=True)


def replace_copy(spark: SparkSession, table: str, rows: pa.Table) -> int:
    """Replace Spark's copy of `table` (one of `COPIED_TABLES`) with `rows`, DuckDB's table read whole; its rows."""
    if table not in COPIED_TABLES:
        raise ValueError(f"{table!r} is not a table Spark keeps a copy of: {', '.join(COPIED_TABLES)}")
    ensure_schema(spark)
    columns = table_columns(spark, table)
    missing = sorted(set(columns) - set(rows.column_names))
    if missing:
        raise ValueError(f"the {table} to copy lacks columns {missing}")
    schema = spark.table(table).schema
    # DuckDB's timestamps are naive UTC, as Spark's session reads them (`session.py`).
    if rows.num_rows == 0:  # nothing to infer types from
        spark.createDataFrame([], schema).write.insertInto(table, overwrite=True)
        return 0
    frame = spark.createDataFrame(rows.select(columns))
    typed = frame.select(*(frame[field.name].cast(field.dataType).alias(field.name) for field in schema.fields))
    typed.write.insertInto(table, overwrite=True)
    return rows.num_rows
