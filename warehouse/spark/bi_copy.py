"""The BI copy taken from Spark's tables: the same Parquet files, per month, as from DuckDB.

`warehouse.publishing.bi_copy.publish` lays the files out and writes each atomically; this
source reads a month of a table to the driver as Arrow (a month's predictions, its drift and
fairness: thousands of rows, not the history) and writes it with PyArrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from warehouse.publishing.bi_copy import MONTH_COLUMN


def naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps as DuckDB's copy writes them: naive, in UTC (Spark's session time zone, `session.py`)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(index).cast(pa.timestamp(field.type.unit))
            table = table.set_column(index, field.name, naive)
    return table


@dataclass(frozen=True)
class SparkSource:
    spark: SparkSession

    def months(self, source: str) -> list[date]:
        rows = self.spark.table(source).select(MONTH_COLUMN).distinct().orderBy(MONTH_COLUMN).collect()
        return [row[0] for row in rows]

    def write(self, source: str, month: date | None, temporary: Path) -> int:
        frame = self.spark.table(source)
        if month is not None:
            # The month lives in the folder name (Hive style), not in the file.
            frame = frame.where(F.col(MONTH_COLUMN) == F.lit(month)).drop(MONTH_COLUMN)
        table = naive_utc(frame.toArrow())
        pq.write_table(table, temporary, compression="zstd")
        return table.num_rows
