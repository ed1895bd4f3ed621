"""Load one delivery: check it against the raw-file contract, then write it in one transaction.

A clean application file is read once, typed, straight into the raw table
(`direct_load`); anything that reader cannot vouch for is staged as text and checked
field by field (`contract_checks`), which is what reports each problem's line and column.

A file that passes replaces whatever its name loaded before (`raw.applications` for the
history and month files, `raw.outcomes` for outcome files) and gets a ledger row. A file
that fails leaves the warehouse as it was, moves to the quarantine folder beside a JSON
report of every problem, and gets a ledger row with status `rejected`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.database import (
    connect,
    load_memory_limit,
    memory_limit,
    transaction,
)
from warehouse.ingestion.check_report import DeliveryReport, Problem
from warehouse.ingestion.contract import KEY, LABEL
from warehouse.ingestion.contract_checks import (
    check_header,
    check_keys,
    check_outcome_ids,
    check_targets,
    check_values,
    contract_for,
    raw_application_columns,
    typed_sql,
)
from warehouse.ingestion.delivery_names import Delivery, DeliveryNameError, parse_delivery_name
from warehouse.ingestion.direct_load import FileScan, NotClean, drop_rejects, insert_clean_file, scan_file
from warehouse.ingestion.ledger import is_superseded, loaded_sha256
from warehouse.ingestion.quarantine import quarantine
from warehouse.ingestion.raw_file import STAGED_TABLE, Header, StagedFile, read_header, stage_file
from warehouse.paths import DataPaths

Progress = Callable[[str], None]


class DeliveryError(ValueError):
    """A delivery that cannot be loaded; the warehouse is left as it was."""


class DeliveryRejected(DeliveryError):
    """A delivery that broke the contract: quarantined with its report, recorded in the ledger."""

    def __init__(self, report: DeliveryReport, quarantined_file: Path, report_path: Path):
        self.report = report
        self.quarantined_file = quarantined_file
        self.report_path = report_path
        super().__init__(f"{report.summary()}\nmoved to {quarantined_file}\nreport: {report_path}")


@dataclass(frozen=True)
class LoadResult:
    delivery: Delivery
    sha256: str
    rows: int
    status: str  # "loaded", "replaced", "unchanged" or "superseded" (an older version, left alone)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        what = self.delivery.file_name
        if self.status == "unchanged":
            return f"{what}: already loaded with the same content (sha256 {self.sha256[:12]}), nothing to do"
        if self.status == "superseded":
            return f"{what}: an older version (sha256 {self.sha256[:12]}), replaced since: not loaded again"
        return f"{what}: {self.status} {self.rows:,} rows (sha256 {self.sha256[:12]})"


def file_sha256(path: Path) -> str:
    return scan_file(path).sha256


def _check(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    delivery: Delivery,
    report: DeliveryReport,
    across_deliveries: bool = True,
) -> StagedFile | None:
    """Run every check that can run; a later check is skipped only when an earlier one makes it meaningless.

    `across_deliveries` adds the checks against what the warehouse holds (ids delivered before,
    outcomes for known applications); without it only the file itself is judged.
    """
    header = read_header(path)
    report.extend(header.problems)
    if not header.names:
        return None
    contract = contract_for(delivery)
    column_problems, warnings = check_header(header.names, contract)
    report.extend(column_problems)
    report.warnings.extend(warnings)
    staged = stage_file(connection, path, header.names)
    report.rows = staged.rows
    report.extend(staged.problems)
    if staged.rows == 0:
        return staged
    check_values(connection, staged, contract, report)
    if KEY in header.names:
        check_keys(connection, staged, delivery, report, across_deliveries)
        if delivery.is_outcomes and across_deliveries:
            check_outcome_ids(connection, staged, delivery, report)
    check_targets(connection, staged, delivery, report)
    return staged


def check_file(path: Path) -> DeliveryReport:
    """The contract checks that need only the file (name, header, structure, values, ids, targets).

    Runs in an in-memory DuckDB, so it never waits for or locks the warehouse: this is what
    the inbox sensor runs before it starts a month. The load repeats these checks and adds
    those against the warehouse (an id delivered before, an outcome for an unknown application).
    """
    path = Path(path)
    report = DeliveryReport(file_name=path.name, sha256=file_sha256(path))
    try:
        delivery = parse_delivery_name(path.name)
    except DeliveryNameError as error:
        report.add(Problem("file_name", str(error)))
        return report
    report.kind = delivery.kind
    report.month = f"{delivery.month:%Y-%m}" if delivery.month else None
    with duckdb.connect(":memory:") as connection, tempfile.TemporaryDirectory(prefix="credit-check-") as spill:
        # The same cap as the warehouse's; past it the staged text goes to a folder of its own.
        connection.execute("set temp_directory = ?", [spill])
        connection.execute("set memory_limit = ?", [memory_limit()])
        _check(connection, path, delivery, report, across_deliveries=False)
    return report


def _application_insert(staged: StagedFile) -> str:
    """Contract columns typed from the staged text, by name; a column the file lacks (only TARGET may) is null."""
    return (
        "insert into raw.applications\nselect\n    "
        + ",\n    ".join(raw_application_columns(staged.header, typed_sql))
        + ",\n    ? as delivery_file,\n    ? as application_month,\n    ? as loaded_at"
        + f"\nfrom {STAGED_TABLE} order by record"
    )


def _outcome_insert(staged: StagedFile) -> str:
    return (
        f"insert into raw.outcomes select {typed_sql(staged.position(KEY), 'BIGINT')}, "
        f"{typed_sql(staged.position(LABEL), 'BIGINT')}, ?, ?, ? from {STAGED_TABLE} order by record"
    )


_APPLICATION_STATEMENTS = (
    "delete from raw.applications where delivery_file = ?",
    "select count(*) from raw.applications where delivery_file = ?",
)
_OUTCOME_STATEMENTS = (
    "delete from raw.outcomes where delivery_file = ?",
    "select count(*) from raw.outcomes where delivery_file = ?",
)


def ledger_row(
    connection, delivery_file, delivery: Delivery | None, status, rows, sha256, source, message, now
) -> None:
    """One row of `raw.load_ledger`: what became of one version of a delivery (either engine's load)."""
    connection.execute(
        "insert into raw.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            delivery_file,
            delivery.kind if delivery else None,
            delivery.month if delivery else None,
            status,
            rows,
            sha256,
            source,
            message,
            now,
        ],
    )


def _write(
    connection, delivery: Delivery, staged: StagedFile, report: DeliveryReport, source: Path, replacing: bool, now
) -> int:
    """Replace the delivery's rows and record it, all in one transaction."""
    delete, count = _OUTCOME_STATEMENTS if delivery.is_outcomes else _APPLICATION_STATEMENTS
    insert = _outcome_insert(staged) if delivery.is_outcomes else _application_insert(staged)
    with transaction(connection):
        connection.execute(delete, [delivery.file_name])
        connection.execute(insert, [delivery.file_name, delivery.month, now])
        rows = connection.execute(count, [delivery.file_name]).fetchone()[0]
        _record_load(connection, delivery, rows, report, source, replacing, now)
    return rows


def _record_load(
    connection: duckdb.DuckDBPyConnection,
    delivery: Delivery,
    rows: int,
    report: DeliveryReport,
    source: Path,
    replacing: bool,
    now: datetime,
) -> None:
    ledger_row(
        connection,
        delivery.file_name,
        delivery,
        "replaced" if replacing else "loaded",
        rows,
        report.sha256,
        str(source.resolve()),
        "; ".join(report.warnings) or None,
        now,
    )


def _write_if_clean(
    connection: duckdb.DuckDBPyConnection,
    delivery: Delivery,
    header: Header,
    report: DeliveryReport,
    source: Path,
    replacing: bool,
    now: datetime,
    scan: FileScan,
) -> int | str:
    """A clean application file loaded in one pass and one transaction: its rows, or why not (nothing written)."""
    column_problems, warnings = check_header(header.names, contract_for(delivery))
    if header.problems or column_problems or warnings:
        return "a header problem or a column the contract does not know"
    delete_rows, _ = _APPLICATION_STATEMENTS
    try:
        with transaction(connection):
            connection.execute(delete_rows, [delivery.file_name])
            rows = insert_clean_file(connection, source, header.names, delivery.file_name, delivery.month, now, scan)
            report.rows = rows
            _record_load(connection, delivery, rows, report, source, replacing, now)
    except NotClean as doubt:
        drop_rejects(connection)
        report.rows = None
        return str(doubt)
    return rows


def _reject(
    connection, path: Path, delivery: Delivery | None, report: DeliveryReport, paths: DataPaths, now
) -> DeliveryRejected:
    moved, report_path = quarantine(path, report, paths.quarantine)
    with transaction(connection):
        ledger_row(
            connection,
            path.name,
            delivery,
            "rejected",
            report.rows,
            report.sha256,
            str(moved),
            report.summary(examples=1),
            now,
        )
    return DeliveryRejected(report, moved, report_path)


def _holds(connection: duckdb.DuckDBPyConnection, delivery: Delivery) -> bool:
    """Whether the raw tables hold rows of the delivery: the ledger also records loads by Spark (`warehouse/spark`)."""
    _, count = _OUTCOME_STATEMENTS if delivery.is_outcomes else _APPLICATION_STATEMENTS
    return connection.execute(count, [delivery.file_name]).fetchone()[0] > 0


def load_delivery(
    path: Path, paths: DataPaths, progress: Progress | None = None, skip_superseded: bool = False
) -> LoadResult:
    """Check `path` and load it, or quarantine it and raise `DeliveryRejected`.

    The same content as the version loaded already is a no-op; other content replaces it.
    With `skip_superseded` (the inbox rule), content that was loaded once and replaced
    since is left alone, so a re-run never undoes a correction.
    """
    say = progress or (lambda message: None)
    path = Path(path)
    if not path.is_file():
        raise DeliveryError(f"{path}: no such file")
    now = datetime.now(UTC).replace(tzinfo=None)
    scan = scan_file(path)
    sha256 = scan.sha256
    report = DeliveryReport(file_name=path.name, sha256=sha256)
    try:
        delivery: Delivery | None = parse_delivery_name(path.name)
    except DeliveryNameError as error:
        delivery = None
        report.add(Problem("file_name", str(error)))
    with connect(paths.warehouse, limit=load_memory_limit()) as connection:
        if delivery is None:
            raise _reject(connection, path, None, report, paths, now)
        report.kind = delivery.kind
        report.month = f"{delivery.month:%Y-%m}" if delivery.month else None
        previous = loaded_sha256(connection, delivery.file_name)
        if previous == sha256 and _holds(connection, delivery):
            return LoadResult(delivery, sha256, 0, "unchanged")
        if skip_superseded and is_superseded(connection, delivery.file_name, sha256):
            return LoadResult(delivery, sha256, 0, "superseded")
        say(f"checking {path.name} ({path.stat().st_size / 1e6:,.1f} MB) against the raw-file contract")
        if not delivery.is_outcomes and not scan.digit_underscore:
            say(f"writing {path.name} in one read, each value checked as it is typed")
            written = _write_if_clean(
                connection, delivery, read_header(path), report, path, previous is not None, now, scan
            )
            if isinstance(written, int):
                say(f"committed {written:,} rows of {path.name}")
                return LoadResult(delivery, sha256, written, "replaced" if previous else "loaded")
            say(f"the one-pass read left a doubt ({written}): checking the file field by field")
        staged = _check(connection, path, delivery, report)
        if report.rejected:
            raise _reject(connection, path, delivery, report, paths, now)
        for warning in report.warnings:
            say(f"warning: {warning}")
        say(f"writing {staged.rows:,} rows of {path.name}")
        rows = _write(connection, delivery, staged, report, path, previous is not None, now)
        say(f"committed {path.name}")
    return LoadResult(delivery, sha256, rows, "replaced" if previous else "loaded", list(report.warnings))
