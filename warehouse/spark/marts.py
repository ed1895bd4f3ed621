"""What the Python steps read from dbt's marts on Spark, and the predictions they write back.

The same rows as on DuckDB (`ml/dataset.py`): the point-in-time training rows of a month,
and a month's scoring rows with the label known today. The training set moves to the
driver as Arrow; scoring runs on the executors (`mapInPandas`), the model going out as its
own text (LightGBM's format) in a broadcast variable: no model object is ever pickled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from warehouse.ingestion.contract import COLUMN_TYPES, TEXT
from warehouse.publishing.predictions_table import LABELS_KNOWN_TODAY, PREDICTION_COLUMNS
from warehouse.spark.tables import overwrite_partitions

FEATURE_TABLE = "marts.fct_application_features"
LABEL_TABLE = "marts.fct_application_labels"
PREDICTIONS = "scoring.predictions"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
BUILD_COLUMNS = ("delivery_file", "loaded_at")  # which load built a mart row: never a feature
# The raw text values a reason quotes back (`ml.dataset.applicant_values`), prefixed so they never meet a feature.
VALUE_PREFIX = "applicant__"
VALUE_COLUMNS = tuple(sorted(name.lower() for name, sql_type in COLUMN_TYPES.items() if sql_type == TEXT))

PREDICTION_SCHEMA = (
    "sk_id_curr bigint, application_month date, default_probability double, risk_grade string, decision string, "
    + ", ".join(f"reason_code_{slot} string" for slot in range(1, 5))
    + ", "
    + ", ".join(f"reason_{slot} string" for slot in range(1, 5))
    + ", model_version string, review_from double, decline_from double, scored_at timestamp"
)


def _mart_columns(spark: SparkSession) -> str:
    """The feature mart's columns less the build columns, each checked before it is written into SQL."""
    names = [name for name in spark.table(FEATURE_TABLE).columns if name not in BUILD_COLUMNS]
    unusual = [name for name in names if not _IDENTIFIER.fullmatch(name)]
    if unusual:
        raise ValueError(f"{FEATURE_TABLE} has columns that are not plain names: {unusual[:5]}")
    return ", ".join(f"features.{name}" for name in names)


def training_row_pieces(spark: SparkSession, month: date, rows_per_piece: int = 50_000) -> Iterator[pa.Table]:
    """Month M's training rows (`ml.dataset.TRAINING_ROWS_SQL`), by id, as Arrow tables of about `rows_per_piece`.

    Rows before M, with the label in force in M-1. The driver holds one piece at a time: the
    rows are computed once (kept by Spark, on disk past its memory), cut into id ranges at
    exact quantiles, and each range sent to the driver sorted.
    """
    sql = f"""
        select {_mart_columns(spark)}, labels.target, labels.label_source
        from {FEATURE_TABLE} as features
        join {LABEL_TABLE} as labels
            on labels.sk_id_curr = features.sk_id_curr
            and (labels.known_from is null or labels.known_from < :month)
            and (labels.superseded_from is null or labels.superseded_from >= :month)
        where features.application_month is null or features.application_month < :month
    """
    rows = spark.sql(sql, args={"month": month}).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        count = rows.count()
        pieces = max(1, -(-count // rows_per_piece))
        # Spark fails on an empty list of probabilities: one piece needs no bound.
        quantiles = [piece / pieces for piece in range(1, pieces)]
        bounds = rows.approxQuantile("sk_id_curr", quantiles, 0.0) if quantiles else []
        edges = [None, *sorted(set(bounds)), None]
        for low, high in zip(edges, edges[1:], strict=False):
            piece = rows
            if low is not None:
                piece = piece.where(F.col("sk_id_curr") > F.lit(low))
            if high is not None:
                piece = piece.where(F.col("sk_id_curr") <= F.lit(high))
            yield piece.orderBy("sk_id_curr").toArrow()
    finally:
        rows.unpersist()


def month_rows(spark: SparkSession, month: date) -> DataFrame:
    """A month's scoring rows (`ml.dataset.SCORING_ROWS_SQL`) beside each applicant's raw text values."""
    values = ", ".join(f"applications.`{name}` as `{VALUE_PREFIX}{name}`" for name in VALUE_COLUMNS)
    sql = f"""
        select {_mart_columns(spark)}, labels.target, {values}
        from {FEATURE_TABLE} as features
        left join {LABELS_KNOWN_TODAY} as labels on labels.sk_id_curr = features.sk_id_curr
        join raw.applications as applications on applications.sk_id_curr = features.sk_id_curr
        where features.application_month = :month
    """
    return spark.sql(sql, args={"month": month})


# The month's applications: feature rows, distinct ids among them, in raw.applications, and in both.
MONTH_APPLICATIONS_SQL = f"""
select
    (select count(*) from {FEATURE_TABLE} where application_month = :month),
    (select count(distinct sk_id_curr) from {FEATURE_TABLE} where application_month = :month),
    (select count(*) from raw.applications where application_month = :month),
    (select count(*) from {FEATURE_TABLE} as features
        join raw.applications as applications
            on applications.sk_id_curr = features.sk_id_curr
            and applications.application_month = features.application_month
        where features.application_month = :month)
"""


def score_month(
    spark: SparkSession,
    month: date,
    model_text: str,
    make_scorer: Callable[[str], Callable[[pd.DataFrame], pd.DataFrame]],
    scored_at: datetime,
) -> int:
    """Score the month on the executors and replace its partition of `scoring.predictions`; returns the rows.

    `make_scorer(model_text)` builds a scorer once per partition (the model parsed from its
    text); the scorer turns rows, with their `applicant__` values, into prediction rows.
    """
    features, ids, applications, joined = spark.sql(MONTH_APPLICATIONS_SQL, args={"month": month}).first()
    if not features and not applications:
        raise ValueError(f"no applications delivered for {month:%Y-%m}: nothing to score")
    if not features == ids == applications == joined:  # raw ids are unique (the contract's check)
        raise ValueError(
            f"the feature mart and raw.applications disagree on the applications of {month:%Y-%m} ({features:,}"
            f" feature rows of {ids:,} ids, {applications:,} applications, {joined:,} in both): run dbt again"
        )
    model = spark.sparkContext.broadcast(model_text)

    def score_partition(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = make_scorer(model.value)
        for frame in frames:
            if len(frame):
                scored = scorer(frame)
                scored["scored_at"] = scored_at  # one time for the whole month, as on DuckDB
                yield scored.loc[:, list(PREDICTION_COLUMNS)]

    try:
        overwrite_partitions(
            spark, month_rows(spark, month).mapInPandas(score_partition, PREDICTION_SCHEMA), PREDICTIONS
        )
    finally:
        model.destroy()
    written = spark.table(PREDICTIONS).where(F.col("application_month") == F.lit(month)).count()
    if written != features:  # a label joined twice, or raw.applications changed under the write
        raise RuntimeError(f"{written:,} predictions written for {month:%Y-%m}'s {features:,} applications")
    return written


def predictions(spark: SparkSession, month: date) -> pd.DataFrame:
    """A month's predictions, by id, as the DuckDB engine's `scoring.predictions` gives them."""
    rows = spark.sql(
        f"select {', '.join(PREDICTION_COLUMNS)} from {PREDICTIONS} where application_month = :month"
        " order by sk_id_curr",
        args={"month": month},
    )
    return rows.toPandas()
