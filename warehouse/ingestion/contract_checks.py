"""The raw-file contract applied to a staged file: columns, value types, ids and outcomes.

Each check records every problem it finds, so one report tells the sender everything
to fix. Values are validated before they are cast, so a cast never guesses (DuckDB
would round `1.5` into an integer column; this rejects it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from warehouse.database import quote_identifier, raw_column_name
from warehouse.ingestion.check_report import EXAMPLES_PER_CHECK, DeliveryReport, Problem
from warehouse.ingestion.contract import (
    COLUMN_NAMES,
    COLUMN_TYPES,
    INTEGER,
    KEY,
    LABEL,
    OUTCOME_COLUMNS,
    REQUIRED_COLUMNS,
    TEXT,
)
from warehouse.ingestion.delivery_names import Delivery
from warehouse.ingestion.raw_file import STAGED_TABLE, StagedFile

VALID_TARGETS = (0, 1)


@dataclass(frozen=True)
class FileContract:
    columns: dict[str, str]
    required: tuple[str, ...]


APPLICATION_CONTRACT = FileContract(dict(COLUMN_TYPES), REQUIRED_COLUMNS)
OUTCOME_CONTRACT = FileContract(dict(OUTCOME_COLUMNS), (KEY, LABEL))


def contract_for(delivery: Delivery) -> FileContract:
    return OUTCOME_CONTRACT if delivery.is_outcomes else APPLICATION_CONTRACT


def text_sql(staged_column: str) -> str:
    """A staged field as text, blank meaning missing."""
    return f"nullif(trim({staged_column}), '')"


def _number_sql(text: str) -> str:
    return f"try_cast({text} as DOUBLE)"


def typed_sql(staged_column: str, sql_type: str) -> str:
    """The typed value of a staged field that passed `invalid_sql`."""
    text = text_sql(staged_column)
    if sql_type == TEXT:
        return text
    if sql_type == INTEGER:
        # Through DOUBLE so that `3.0` (pandas' way of writing an integer column with gaps) reads as 3.
        return f"cast({_number_sql(text)} as BIGINT)"
    return f"cast({text} as {sql_type})"


def raw_application_columns(header: list[str], value_sql: Callable[[str, str], str]) -> list[str]:
    """The select list of `raw.applications`' contract columns, by name, from a file with `header`.

    `value_sql(column, sql_type)` types the file's column `cN` (N its place in the header, first
    occurrence); a contract column the file lacks (only TARGET may) is null.
    """
    expressions = []
    for name in COLUMN_NAMES:
        target = quote_identifier(raw_column_name(name))
        if name in header:
            expressions.append(f"{value_sql(f'c{header.index(name) + 1}', COLUMN_TYPES[name])} as {target}")
        else:
            expressions.append(f"cast(null as {COLUMN_TYPES[name]}) as {target}")
    return expressions


def invalid_sql(staged_column: str, sql_type: str) -> str:
    """True where a field holds text that is not a value of `sql_type`.

    A number is what DuckDB parses as a finite DOUBLE, less its `1_000` digit grouping; a
    whole number must also have no fraction. DuckDB's own integer cast would round `1.5`
    to 2 without a word, so integers are never cast from text directly.
    """
    text = text_sql(staged_column)
    number = _number_sql(text)
    not_a_number = f"coalesce(not isfinite({number}), true) or contains({text}, '_')"
    if sql_type == INTEGER:
        return f"({text} is not null and ({not_a_number} or {number} <> trunc({number}) or abs({number}) >= 9e15))"
    return f"({text} is not null and ({not_a_number}))"


def check_header(header: list[str], contract: FileContract) -> tuple[list[Problem], list[str]]:
    """Required columns missing are problems; columns the contract does not know are warnings."""
    present = set(header)
    problems = []
    for name in contract.required:
        if name in present:
            continue
        near = [column for column in header if column.strip().upper() == name]
        hint = f" (the file has {near[0]!r}; names are exact, upper case)" if near else ""
        problems.append(Problem("missing_column", f"required column {name} is missing{hint}", line=1, column=name))
    unknown = [name for name in header if name not in contract.columns]
    warnings = [f"column {name!r} is not in the contract and was not loaded" for name in unknown]
    return problems, warnings


def _report_rows(
    connection: duckdb.DuckDBPyConnection,
    report: DeliveryReport,
    sql: str,
    problem: Callable[..., Problem],
    parameters: list | None = None,
) -> None:
    """Count every row `sql` finds; turn the first of them (in file order) into listed problems.

    `sql` is built here from constants and staged column positions; values are bound.
    """
    rows = connection.execute(
        f"select *, count(*) over () from ({sql}) order by 1 limit ?", [*(parameters or []), EXAMPLES_PER_CHECK]
    ).fetchall()
    if not rows:
        return
    listed = [problem(*row[:-1]) for row in rows]
    report.extend(listed)
    report.count_unlisted(listed[0].check, rows[0][-1] - len(listed))


def _valid_ids_sql(staged: StagedFile) -> str:
    """Each record with a well-formed id: `record`, `id`."""
    key = staged.position(KEY)
    return (
        f"select record, {typed_sql(key, INTEGER)} as id from {STAGED_TABLE}"
        f" where {text_sql(key)} is not null and not {invalid_sql(key, INTEGER)}"
    )


def check_values(
    connection: duckdb.DuckDBPyConnection, staged: StagedFile, contract: FileContract, report: DeliveryReport
) -> None:
    """Every field of a typed column must parse as its type; all bad fields are counted.

    One scan counts the bad fields of every column; only columns that have some are read again for examples.
    """
    typed = [
        (name, sql_type, staged.position(name))
        for name, sql_type in contract.columns.items()
        if name in staged.header and sql_type != TEXT
    ]
    if not typed:
        return
    counts = connection.execute(
        "select "
        + ", ".join(f"count(*) filter (where {invalid_sql(column, sql_type)})" for _, sql_type, column in typed)
        + f" from {STAGED_TABLE}"
    ).fetchone()
    for (name, sql_type, column), total in zip(typed, counts, strict=True):
        if not total:
            continue
        kind = "a whole number" if sql_type == INTEGER else "a number"
        _report_rows(
            connection,
            report,
            f"select record, {column} from {STAGED_TABLE} where {invalid_sql(column, sql_type)}",
            lambda record, value, name=name, kind=kind: Problem(
                "bad_value", f"{name}: {value!r} is not {kind}", staged.lines.line_of(record), name, value
            ),
        )


def check_keys(
    connection: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    delivery: Delivery,
    report: DeliveryReport,
    across_deliveries: bool = True,
) -> None:
    """SK_ID_CURR present and unique in the file.

    For applications (`across_deliveries`), also not delivered by another file.
    """
    line = staged.lines.line_of
    _report_rows(
        connection,
        report,
        f"select record from {STAGED_TABLE} where {text_sql(staged.position(KEY))} is null",
        lambda record: Problem("missing_id", f"{KEY} is empty", line(record), KEY),
    )
    _report_rows(
        connection,
        report,
        f"select min(record), id, count(*), list(record order by record)[1:5]"
        f" from ({_valid_ids_sql(staged)}) group by id having count(*) > 1",
        lambda first, identifier, count, records: Problem(
            "duplicate_id",
            f"{KEY} {identifier} appears on {count} rows (lines {', '.join(str(line(r)) for r in records)})",
            line(first),
            KEY,
            str(identifier),
        ),
    )
    if delivery.is_outcomes or not across_deliveries:
        return
    _report_rows(
        connection,
        report,
        f"""
        select s.record, s.id, any_value(a.delivery_file)
        from ({_valid_ids_sql(staged)}) as s join raw.applications as a on a.sk_id_curr = s.id
        where a.delivery_file <> ?
        group by s.record, s.id
        """,
        lambda record, identifier, earlier: Problem(
            "id_already_delivered",
            f"{KEY} {identifier} was already delivered in {earlier}: "
            "the same application twice would leak between training and scoring",
            line(record),
            KEY,
            str(identifier),
        ),
        [delivery.file_name],
    )


def check_targets(
    connection: duckdb.DuckDBPyConnection, staged: StagedFile, delivery: Delivery, report: DeliveryReport
) -> None:
    """TARGET is 0 or 1 where given; an outcome delivery must give it on every row."""
    if LABEL not in staged.header:
        return
    target = staged.position(LABEL)
    line = staged.lines.line_of
    well_formed = f"{text_sql(target)} is not null and not {invalid_sql(target, INTEGER)}"
    _report_rows(
        connection,
        report,
        f"select record, {target} from {STAGED_TABLE}"
        f" where {well_formed} and {typed_sql(target, INTEGER)} not in {VALID_TARGETS}",
        lambda record, value: Problem(
            "bad_target", f"{LABEL} is {value!r}: it must be 0 or 1", line(record), LABEL, value
        ),
    )
    if delivery.is_outcomes:
        _report_rows(
            connection,
            report,
            f"select record from {STAGED_TABLE} where {text_sql(target)} is null",
            lambda record: Problem(
                "missing_target", f"{LABEL} is empty: an outcome delivery must give every outcome", line(record), LABEL
            ),
        )


def check_outcome_ids(
    connection: duckdb.DuckDBPyConnection, staged: StagedFile, delivery: Delivery, report: DeliveryReport
) -> None:
    """Outcomes only for applications already delivered, and from a month before the outcome's date."""
    line = staged.lines.line_of
    _report_rows(
        connection,
        report,
        f"select s.record, s.id from ({_valid_ids_sql(staged)}) as s"
        " anti join raw.applications as a on a.sk_id_curr = s.id",
        lambda record, identifier: Problem(
            "unknown_id",
            f"{KEY} {identifier} was never delivered: there is no application to give an outcome to",
            line(record),
            KEY,
            str(identifier),
        ),
    )
    _report_rows(
        connection,
        report,
        f"""
        select s.record, s.id, a.application_month
        from ({_valid_ids_sql(staged)}) as s join raw.applications as a on a.sk_id_curr = s.id
        where a.application_month >= ?
        """,
        lambda record, identifier, month: Problem(
            "outcome_too_early",
            f"{KEY} {identifier} applied in {month:%Y-%m}: its outcome cannot be known by {delivery.month:%Y-%m-%d}",
            line(record),
            KEY,
            str(identifier),
        ),
        [delivery.month],
    )
