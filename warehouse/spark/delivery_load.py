"""An application delivery loaded by Spark's own CSV reader, against the raw-file contract.

Spark reads every field as text and its SQL applies the contract (`contract_checks.invalid_sql`
on DuckDB): a number is a finite decimal with no digit grouping, a whole number has no
fraction, ids are present, new and once only, a target is 0 or 1, and every record has the
header's fields. Where Spark is stricter than DuckDB's reader (a Java `1.5d`, a hex float,
U+FFFD that an undecodable byte became) it refuses rather than guesses.

Spark cannot say on which line a problem is. A refused file is therefore checked again by
the DuckDB checker (`loader.check_file`, streaming, in memory), whose report gives line and
column, and quarantined beside that report, exactly as the DuckDB engine does. Nothing is
written to the warehouse unless every check passes; the delivery's partition is then
overwritten whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from warehouse.database import raw_column_name
from warehouse.ingestion.check_report import DeliveryReport, Problem
from warehouse.ingestion.contract import COLUMN_TYPES, COLUMNS, INTEGER, KEY, LABEL, TEXT
from warehouse.ingestion.contract_checks import APPLICATION_CONTRACT, VALID_TARGETS, check_header
from warehouse.ingestion.delivery_names import DeliveryNameError, parse_delivery_name
from warehouse.ingestion.loader import DeliveryRejected, check_file, file_sha256
from warehouse.ingestion.quarantine import quarantine
from warehouse.ingestion.raw_file import read_header
from warehouse.spark.tables import ensure_schema, table_columns

APPLICATIONS = "raw.applications"
CORRUPT = "_malformed_record"
# The characters of a number as DuckDB's DOUBLE cast reads one, once trimmed (no `_` digit grouping).
NUMBER_CHARACTERS = "0123456789.eE+-"
LARGEST_WHOLE_NUMBER = 9e15  # as on DuckDB: past it a double no longer holds every whole number


@dataclass(frozen=True)
class SparkLoad:
    file_name: str
    month: date | None
    rows: int
    warnings: tuple[str, ...] = ()


def _text(column: str) -> Column:
    """A field as text, blank meaning missing (`contract_checks.text_sql`)."""
    trimmed = F.trim(F.col(f"`{column}`"))
    return F.when(trimmed != "", trimmed)


def _invalid(column: str, sql_type: str) -> Column:
    text = _text(column)
    if sql_type == TEXT:
        return text.contains("\ufffd")
    number = text.cast("double")
    # Java's parser, under Spark's cast, also reads `1.5d`, `0x1p3` and `Infinity`: those letters
    # never pass, and what is left to it is a plain decimal, as DuckDB reads it.
    not_a_number = (
        number.isNull()
        | (F.translate(text, NUMBER_CHARACTERS, "") != "")
        | F.isnan(number)
        | (F.abs(number) == float("inf"))
    )
    if sql_type == INTEGER:
        not_a_number = not_a_number | (number != F.floor(number)) | (F.abs(number) >= LARGEST_WHOLE_NUMBER)
    return text.isNotNull() & not_a_number


def _typed(column: str, sql_type: str) -> Column:
    text = _text(column)
    if sql_type == TEXT:
        return text
    number = text.cast("double")
    return number.cast("bigint") if sql_type == INTEGER else number


def _read(spark: SparkSession, path: Path, header: list[str]) -> DataFrame:
    fields = [T.StructField(name, T.StringType()) for name in header] + [T.StructField(CORRUPT, T.StringType())]
    return spark.read.csv(
        str(path),
        schema=T.StructType(fields),
        header=True,
        enforceSchema=True,  # the header was checked already, by the same code as on DuckDB
        mode="PERMISSIVE",
        columnNameOfCorruptRecord=CORRUPT,  # a record with more or fewer fields than the header
        # Record by record, so that the file splits across the cores: a quoted line break then reads
        # as a record with too few fields, and the file is refused (DuckDB's reader would accept it).
        multiLine=False,
        quote='"',
        escape='"',  # RFC 4180: a quote inside a quoted field is doubled (Spark's default is a backslash)
        encoding="UTF-8",
        ignoreLeadingWhiteSpace=False,
        ignoreTrailingWhiteSpace=False,
    )


def _problems(spark: SparkSession, rows: DataFrame, header: list[str], file_name: str) -> tuple[int, list[str]]:
    """The file's records, and what keeps the file out, as one line each (empty when it may be loaded)."""
    contract = [name for name, _ in COLUMNS if name in header]
    counts = {
        "records": F.count(F.lit(1)),
        "records with more or fewer fields than the header (or a quoted line break)": F.count(F.col(CORRUPT)),
        "applications without an id": F.count(F.when(_text(KEY).isNull(), 1)),
        "ids delivered twice in the file": F.count(_text(KEY)) - F.countDistinct(_text(KEY)),
    }
    for name in contract:
        counts[f"values of {name} the contract refuses"] = F.count(F.when(_invalid(name, COLUMN_TYPES[name]), 1))
    if LABEL in header:
        target = _typed(LABEL, INTEGER)
        counts[f"{LABEL} values other than 0 or 1"] = F.count(F.when(~target.isin(*VALID_TARGETS), 1))
    records, *found = rows.agg(
        *(expression.alias(f"c{index}") for index, expression in enumerate(counts.values()))
    ).first()
    problems = [f"{count:,} {what}" for what, count in zip(list(counts)[1:], found, strict=True) if count]
    if not records:
        problems.append("the file has a header but no rows")
    earlier = spark.table(APPLICATIONS).where(F.col("delivery_file") != file_name).select(KEY.lower())
    delivered_before = rows.select(_typed(KEY, INTEGER).alias(KEY.lower())).join(earlier, KEY.lower(), "left_semi")
    count = delivered_before.count()
    if count:
        problems.append(f"{count:,} ids delivered before, in another file")
    return records, problems


def _contract_frame(rows: DataFrame, header: list[str], month: date | None, loaded_at: datetime) -> DataFrame:
    typed = [
        (_typed(name, sql_type) if name in header else F.lit(None).cast(_spark_type(sql_type))).alias(
            raw_column_name(name)
        )
        for name, sql_type in COLUMNS
    ]
    return rows.select(
        *typed,
        F.lit(month).cast("date").alias("application_month"),
        F.lit(loaded_at).cast("timestamp").alias("loaded_at"),
    )


def _spark_type(sql_type: str) -> str:
    return {INTEGER: "bigint", TEXT: "string"}.get(sql_type, "double")


def _reject(path: Path, reasons: list[str], quarantine_folder: Path) -> DeliveryRejected:
    """The DuckDB checker's report (lines and columns); Spark's own reasons where it found none."""
    report = check_file(path)
    if not report.problems:
        report = DeliveryReport(file_name=path.name, sha256=file_sha256(path))
        for reason in reasons:
            report.add(Problem("spark_contract", f"{reason} (Spark's reader; no line can be given)"))
    moved, report_path = quarantine(path, report, quarantine_folder)
    return DeliveryRejected(report, moved, report_path)


def load_application_file(spark: SparkSession, path: Path, quarantine_folder: Path) -> SparkLoad:
    """Check an application delivery with Spark and write it to its partition of `raw.applications`, or refuse it."""
    path = Path(path)
    ensure_schema(spark)
    try:
        delivery = parse_delivery_name(path.name)
    except DeliveryNameError as error:
        raise _reject(path, [str(error)], quarantine_folder) from None
    if delivery.is_outcomes:
        raise NotImplementedError("outcome deliveries load through the duckdb engine only, so far")
    header = read_header(path)
    column_problems, warnings = check_header(header.names, APPLICATION_CONTRACT)
    if header.problems or column_problems:
        raise _reject(path, [problem.message for problem in header.problems + column_problems], quarantine_folder)
    rows = _read(spark, path, header.names).cache()  # read once for the checks and once for the write otherwise
    try:
        records, problems = _problems(spark, rows, header.names, delivery.file_name)
        if problems:
            raise _reject(path, problems, quarantine_folder)
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        frame = _contract_frame(rows, header.names, delivery.month, loaded_at)
        frame = frame.withColumn("delivery_file", F.lit(delivery.file_name))
        frame.select(*table_columns(spark, APPLICATIONS)).write.insertInto(APPLICATIONS, overwrite=True)
    finally:
        rows.unpersist()
    return SparkLoad(delivery.file_name, delivery.month, records, tuple(warnings))
