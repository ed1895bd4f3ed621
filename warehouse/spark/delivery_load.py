"""A delivery loaded by Spark's own CSV reader, against the raw-file contract.

Spark reads every field as text and its SQL applies the contract (`contract_checks.invalid_sql`
on DuckDB): a number is a finite decimal with no digit grouping, a whole number has no
fraction, ids are present, new and once only, a target is 0 or 1, and every record has the
header's fields. Where Spark is stricter than DuckDB's reader (a Java `1.5d`, a hex float,
U+FFFD that an undecodable byte became) it refuses rather than guesses.

Every load is recorded in the same ledger as on DuckDB (`raw.load_ledger`, in the DuckDB file
that holds the warehouse's control tables whichever engine holds the data): a delivery loaded
again with the same content is skipped, a correction replaces it, and a refusal is recorded.

Spark cannot say on which line a problem is. A refused file is therefore checked again by
the DuckDB checker (`loader.check_file`, streaming, in memory), whose report gives line and
column, and quarantined beside that report, exactly as the DuckDB engine does. Nothing is
written to the warehouse unless every check passes; the delivery's partition is then
overwritten whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from warehouse.database import connect, raw_column_name, transaction
from warehouse.ingestion.check_report import DeliveryReport, Problem
from warehouse.ingestion.contract import COLUMN_TYPES, COLUMNS, INTEGER, KEY, LABEL
from warehouse.ingestion.contract_checks import VALID_TARGETS, check_header, contract_for
from warehouse.ingestion.delivery_names import Delivery, DeliveryNameError, parse_delivery_name
from warehouse.ingestion.ledger import is_superseded, loaded_sha256
from warehouse.ingestion.loader import DeliveryError, DeliveryRejected, LoadResult, check_file, file_sha256, ledger_row
from warehouse.ingestion.quarantine import quarantine
from warehouse.ingestion.raw_file import read_header
from warehouse.paths import DataPaths
from warehouse.spark import contract_sql
from warehouse.spark.contract_sql import CORRUPT, UNDECODABLE
from warehouse.spark.tables import SPARK_TYPES, ensure_schema, overwrite_partitions

APPLICATIONS = "raw.applications"
OUTCOMES = "raw.outcomes"
# What only the warehouse can tell: the DuckDB checker judges the file alone.
ACROSS_DELIVERIES = ("id_already_delivered", "unknown_id", "outcome_too_early")
# A write begun and not (yet) finished, in the load ledger.
LOADING = "loading"


@dataclass(frozen=True)
class SparkLoad:
    file_name: str
    month: date | None
    rows: int
    warnings: tuple[str, ...] = ()


def _select(spark: SparkSession, sql: str, **parameters) -> DataFrame:
    """`sql` (contract SQL text) with the contract's parameters and the caller's bound."""
    return spark.sql(sql, args={**contract_sql.PARAMETERS, **parameters})


def _read(spark: SparkSession, path: Path, header: list[str], contract: dict[str, str]) -> DataFrame:
    """The file's contract columns by name, every field as text, with the reader's two findings.

    Fields are read by position (`c1`, `c2` ...), never by the header's own names, which Spark
    would match regardless of case; `_malformed_record` holds a record with the wrong number of
    fields, `_undecodable` is true where any field held a byte that is not UTF-8 (`contract_sql.read_columns`).
    """
    positions = [f"c{index}" for index in range(1, len(header) + 1)]
    fields = [T.StructField(name, T.StringType()) for name in positions] + [T.StructField(CORRUPT, T.StringType())]
    rows = spark.read.csv(
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
        unescapedQuoteHandling="RAISE_ERROR",  # `"ab"c`, which DuckDB refuses too, fails the read
    )
    # PySpark's `{rows}` names the read for this statement only (a view it drops after): nothing is cached yet.
    sql = f"select {', '.join(contract_sql.read_columns(header, contract))} from {{rows}}"
    return spark.sql(sql, args=contract_sql.PARAMETERS, rows=rows)


def _count(condition: str) -> str:
    """The records where `condition` is true, not null (`count_if` wrote it twice into the generated code)."""
    return f"count(case when {condition} then 1 end)"


def _problems(spark: SparkSession, view: str, header: list[str], delivery: Delivery) -> tuple[int, list[Problem]]:
    """The file's records (the temporary `view` of them), and what keeps the file out (empty when it may be
    loaded), by the DuckDB checker's names."""
    contract = [name for name in contract_for(delivery).columns if name in header]
    valid_id = contract_sql.valid(KEY, INTEGER)
    counts: dict[tuple[str, str | None, str], str] = {
        ("malformed_record", None, "records with more or fewer fields than the header (or a quoted line break)"): (
            f"count({contract_sql.column(CORRUPT)})"
        ),
        ("missing_id", KEY, f"records without a {KEY}"): _count(f"{contract_sql.text(KEY)} is null"),
        # As DuckDB counts them: typed, so `100` and `100.0` are one id; among the values that are ids at all.
        ("duplicate_id", KEY, f"{KEY} values repeated in the file"): f"count({valid_id}) - count(distinct {valid_id})",
        ("encoding", None, "records with bytes that are not UTF-8"): _count(contract_sql.column(UNDECODABLE)),
    }
    for name in contract:
        counts["bad_value", name, f"values of {name} the contract refuses"] = _count(
            contract_sql.invalid(name, COLUMN_TYPES[name])
        )
    if LABEL in header:
        valid_targets = ", ".join(str(int(target)) for target in VALID_TARGETS)
        counts["bad_target", LABEL, f"{LABEL} values other than 0 or 1"] = _count(
            f"{contract_sql.valid(LABEL, INTEGER)} not in ({valid_targets})"
        )
    if delivery.is_outcomes:
        counts["missing_target", LABEL, f"outcomes without a {LABEL}"] = _count(f"{contract_sql.text(LABEL)} is null")
    records, *found = _select(spark, f"select count(*), {', '.join(counts.values())} from {view}").first()
    problems = [
        Problem(check, f"{count:,} {what}", column=column)
        for (check, column, what), count in zip(counts, found, strict=True)
        if count
    ]
    if not records:
        problems.append(Problem("no_rows", "the file has a header but no rows"))
    return records, problems + _against_the_warehouse(spark, view, delivery)


def _against_the_warehouse(spark: SparkSession, view: str, delivery: Delivery) -> list[Problem]:
    """An application id must be new; an outcome's must be an application delivered before the outcome's month."""
    ids = f"select {contract_sql.valid(KEY, INTEGER)} as sk_id_curr from {view}"

    def count(join: str, applications: str, **parameters) -> int:
        sql = (
            f"select count(*) from ({ids}) as ids {join} (select sk_id_curr from {APPLICATIONS}{applications})"
            " using (sk_id_curr) where ids.sk_id_curr is not null"
        )
        return _select(spark, sql, **parameters).first()[0]

    if not delivery.is_outcomes:
        earlier = count("left semi join", " where delivery_file <> :delivery_file", delivery_file=delivery.file_name)
        if not earlier:
            return []
        return [Problem("id_already_delivered", f"{earlier:,} ids delivered before, in another file", column=KEY)]
    unknown = count("left anti join", "")
    too_early = count("left semi join", " where application_month >= :month", month=delivery.month)
    problems = []
    if unknown:
        problems.append(Problem("unknown_id", f"{unknown:,} outcomes for applications never delivered", column=KEY))
    if too_early:
        what = f"{too_early:,} outcomes for applications of {delivery.month:%Y-%m} or later"
        problems.append(Problem("outcome_too_early", what, column=KEY))
    return problems


def _stamped(
    spark: SparkSession, columns: str, month_column: str, view: str, delivery: Delivery, loaded_at: datetime
) -> DataFrame:
    """The delivery's typed `columns`, with its month (as `month_column`), the load's time and the file's name.

    The time goes in as text, read in the session's time zone (UTC, `session.py`): as Spark stores a
    naive UTC time. A Python datetime would be converted in the time zone of the Python process, and
    the load ledger holds the naive value, which the training step compares (`SparkEngine.built_deliveries`).
    """
    sql = (
        f"select {columns}, cast(:month as date) as {month_column}, cast(:loaded_at as timestamp) as loaded_at,"
        f" :delivery_file as delivery_file from {view}"
    )
    moment = loaded_at.isoformat(sep=" ", timespec="microseconds")
    return _select(spark, sql, month=delivery.month, loaded_at=moment, delivery_file=delivery.file_name)


def _contract_frame(
    spark: SparkSession, view: str, header: list[str], delivery: Delivery, loaded_at: datetime
) -> DataFrame:
    typed = [
        f"{contract_sql.typed(name, sql_type) if name in header else f'cast(null as {SPARK_TYPES[sql_type]})'}"
        f" as {contract_sql.column(raw_column_name(name))}"
        for name, sql_type in COLUMNS
    ]
    return _stamped(spark, ", ".join(typed), "application_month", view, delivery, loaded_at)


def _outcome_frame(spark: SparkSession, view: str, delivery: Delivery, loaded_at: datetime) -> DataFrame:
    typed = f"{contract_sql.typed(KEY, INTEGER)} as sk_id_curr, {contract_sql.typed(LABEL, INTEGER)} as target"
    return _stamped(spark, typed, "known_from", view, delivery, loaded_at)


def _reject(path: Path, problems: list[Problem], quarantine_folder: Path) -> DeliveryRejected:
    """The DuckDB checker's report (lines and columns) where it sees the problem; else Spark's, without lines.

    The checker judges the file alone: an id delivered before, or an outcome for an application
    never delivered, only Spark can tell here.
    """
    report = check_file(path)
    across_deliveries = [problem for problem in problems if problem.check in ACROSS_DELIVERIES]
    if report.problems:
        report.extend(across_deliveries)
    else:
        report = DeliveryReport(file_name=path.name, sha256=file_sha256(path))
        report.extend(across_deliveries)
        # The DuckDB checker passed the file itself: only Spark's reader could not read it as the contract does.
        report.extend(
            Problem(problem.check, f"Spark's CSV reader: {problem.message}", problem.line, problem.column)
            for problem in problems
            if problem.check not in ACROSS_DELIVERIES
        )
    moved, report_path = quarantine(path, report, quarantine_folder)
    return DeliveryRejected(report, moved, report_path)


def load_delivery_file(
    spark: SparkSession,
    path: Path,
    quarantine_folder: Path,
    loaded_at: datetime | None = None,
    before_writing: Callable[[], None] = lambda: None,
) -> SparkLoad:
    """Check a delivery with Spark and write its partition of `raw.applications` or `raw.outcomes`, or refuse it.

    `before_writing` runs once every check has passed, just before the partition is overwritten.
    """
    path = Path(path)
    ensure_schema(spark)
    try:
        delivery = parse_delivery_name(path.name)
    except DeliveryNameError as error:
        raise _reject(path, [Problem("file_name", str(error))], quarantine_folder) from None
    header = read_header(path)
    column_problems, warnings = check_header(header.names, contract_for(delivery))
    if header.problems or column_problems:
        raise _reject(path, header.problems + column_problems, quarantine_folder)
    # Checked and written from one read of the file, kept by Spark. Queried by a view's name of its own:
    # a view PySpark's formatter drops (`spark.sql(..., rows=frame)`) would uncache the rows with it.
    rows = _read(spark, path, header.names, contract_for(delivery).columns).cache()
    view = f"delivery_rows_{uuid.uuid4().hex}"
    rows.createOrReplaceTempView(view)
    try:
        try:
            records, problems = _problems(spark, view, header.names, delivery)
        except Py4JJavaError as error:
            if "TextParsingException" not in str(error):
                raise
            problems = [Problem("malformed_record", "a field the CSV parser cannot read (a quote inside a field?)")]
        if problems:
            raise _reject(path, problems, quarantine_folder)
        loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None)
        before_writing()
        if delivery.is_outcomes:
            table, frame = OUTCOMES, _outcome_frame(spark, view, delivery, loaded_at)
        else:
            table, frame = APPLICATIONS, _contract_frame(spark, view, header.names, delivery, loaded_at)
        overwrite_partitions(spark, frame, table)
    finally:
        spark.catalog.dropTempView(view)
        rows.unpersist()
    return SparkLoad(delivery.file_name, delivery.month, records, tuple(warnings))


def _last_attempt(connection, file_name: str) -> str | None:
    """The status of the latest write of this delivery begun: `loading` when it never finished."""
    row = connection.execute(
        # An attempt's rows share its time: where they tie, the one that finished it is the latest.
        "select status from raw.load_ledger where delivery_file = ? and status in (?, ?, ?)"
        " order by loaded_at desc, status = ? limit 1",
        [file_name, LOADING, "loaded", "replaced", LOADING],
    ).fetchone()
    return row[0] if row else None


def unfinished_loads(connection) -> list[str]:
    """Deliveries whose latest write was begun and never finished (or is under way): their partitions may be partial."""
    rows = connection.execute(
        "select delivery_file from raw.load_ledger where status in (?, ?, ?)"
        " qualify row_number() over (partition by delivery_file order by loaded_at desc, status = ?) = 1"
        " and status = ? order by 1",
        [LOADING, "loaded", "replaced", LOADING, LOADING],
    ).fetchall()
    return [file_name for (file_name,) in rows]


def _holds(spark: SparkSession, delivery: Delivery) -> bool:
    """Whether Spark's tables hold rows of the delivery: a ledger shared by a data directory's engines is not proof."""
    table = OUTCOMES if delivery.is_outcomes else APPLICATIONS
    return spark.table(table).where(F.col("delivery_file") == F.lit(delivery.file_name)).limit(1).count() > 0


def load_delivery(
    spark: SparkSession,
    path: Path,
    paths: DataPaths,
    progress: Callable[[str], None] | None = None,
    skip_superseded: bool = False,
) -> LoadResult:
    """`warehouse.ingestion.loader.load_delivery` on Spark: the same ledger, the same outcomes.

    The same content as the version loaded already is a no-op; other content replaces it;
    with `skip_superseded`, a version replaced since is left alone. Spark's overwrite of a
    partition is not one transaction, so the ledger brackets it: a `loading` row before, the
    outcome after. A write that never finished (a crash, a lost lock) leaves `loading` last,
    and the next load of that delivery writes it again, whatever its content.
    """
    path = Path(path)
    if not path.is_file():
        raise DeliveryError(f"{path}: no such file")
    sha256 = file_sha256(path)
    try:
        delivery: Delivery | None = parse_delivery_name(path.name)
    except DeliveryNameError:
        delivery = None  # refused below, with the reason
    previous = None
    now = datetime.now(UTC).replace(tzinfo=None)
    if delivery is not None:
        with connect(paths.warehouse) as connection:
            previous = loaded_sha256(connection, delivery.file_name)
            finished = _last_attempt(connection, delivery.file_name) != LOADING
            if previous == sha256 and finished and _holds(spark, delivery):
                return LoadResult(delivery, sha256, 0, "unchanged")
            if skip_superseded and is_superseded(connection, delivery.file_name, sha256):
                return LoadResult(delivery, sha256, 0, "superseded")
    if progress:
        progress(f"checking {path.name} with Spark's CSV reader against the raw-file contract")

    def record(status: str, rows: int | None, source: Path, message: str | None = None) -> None:
        with connect(paths.warehouse) as connection, transaction(connection):
            ledger_row(connection, path.name, delivery, status, rows, sha256, str(source), message, now)

    try:
        loaded = load_delivery_file(
            spark, path, paths.quarantine, now, before_writing=lambda: record(LOADING, None, path.resolve())
        )
    except DeliveryRejected as rejected:
        record("rejected", rejected.report.rows, rejected.quarantined_file, rejected.report.summary(examples=1))
        raise
    status = "replaced" if previous else "loaded"
    record(status, loaded.rows, path.resolve(), "; ".join(loaded.warnings) or None)
    return LoadResult(delivery, sha256, loaded.rows, status, list(loaded.warnings))
