"""Reading a delivered CSV as text into a temporary table, with every structural problem found.

The file is read once by DuckDB, every field as text, under fixed dialect settings
(comma, double quote, header line, UTF-8), so nothing is guessed. Rows DuckDB cannot
read (wrong number of fields, an unterminated quote, invalid UTF-8) are collected
from its reject tables with their line numbers instead of stopping at the first.
The file's own column names never reach SQL: the staged columns are `c1..cN` and
`StagedFile.position` maps a header name to its staged column.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.ingestion.check_report import Problem

ENCODING = "utf-8"
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
STAGED_TABLE = "staged_delivery"
_HEADER_BYTES_LIMIT = 1 << 20
_FIELD_COUNT = re.compile(r"Found: (\d+)")

_REJECT_CHECKS = {
    "MISSING COLUMNS": "ragged_row",
    "TOO MANY COLUMNS": "ragged_row",
    "INVALID ENCODING": "encoding",
    "INVALID UNICODE": "encoding",
    "UNQUOTED VALUE": "quoting",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
}


@dataclass(frozen=True)
class Header:
    names: list[str]
    problems: list[Problem]


def read_header(path: Path) -> Header:
    """The first line's column names; an empty, undecodable or malformed header is a problem."""
    with open(path, "rb") as handle:
        first_line = handle.readline(_HEADER_BYTES_LIMIT)
    if not first_line:
        return Header([], [Problem("empty_file", "the file is empty (0 bytes)")])
    raw = first_line.removeprefix(BYTE_ORDER_MARK).rstrip(b"\r\n")
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError as error:
        return Header(
            [],
            [Problem("encoding", f"the header is not valid {ENCODING}: {error.reason} at byte {error.start}", line=1)],
        )
    if not text.strip():
        return Header([], [Problem("empty_file", "the first line is blank: no header")])
    names = next(csv.reader([text]))
    problems = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(
                Problem(
                    "duplicate_column", f"column {name!r} appears more than once in the header", line=1, column=name
                )
            )
        seen.add(name)
    problems.extend(
        Problem("blank_column_name", f"header field {index} has no name", line=1)
        for index, name in enumerate(names, start=1)
        if not name.strip()
    )
    return Header(names, problems)


class LineNumbers:
    """Maps the n-th accepted record to its line, skipping the lines DuckDB rejected."""

    def __init__(self, rejected_lines: list[int]):
        self._rejected = sorted(set(rejected_lines))

    def line_of(self, record: int) -> int:
        line = record + 1  # the header is line 1
        # Each rejected line at or before the candidate pushes the record one line further down.
        seen = 0
        while True:
            before = bisect_right(self._rejected, line)
            if before == seen:
                return line
            line += before - seen
            seen = before


@dataclass(frozen=True)
class StagedFile:
    """A file's records in `STAGED_TABLE` as text: `record` (1..rows) and `c1..cN`."""

    header: list[str]
    rows: int
    problems: list[Problem]
    lines: LineNumbers

    def position(self, name: str) -> str:
        """The staged column holding the file's column `name` (its first occurrence)."""
        return f"c{self.header.index(name) + 1}"


def _reject_problem(header: list[str], line: int, column_name: str | None, error_type: str, message: str) -> Problem:
    check = _REJECT_CHECKS.get(error_type, "unreadable_row")
    column = None
    if column_name and column_name.startswith("c") and column_name[1:].isdigit():
        index = int(column_name[1:]) - 1
        column = header[index] if 0 <= index < len(header) else None
    if check == "ragged_row":
        found = _FIELD_COUNT.search(message)
        shown = f"{found.group(1)} fields" if found else "a different number of fields"
        message = f"expected {len(header)} fields as in the header, found {shown} (a truncated or ragged row)"
    elif check == "encoding":
        message = f"bytes that are not valid {ENCODING} text"
    elif check == "quoting":
        message = "a quote that is not closed or a value after a closing quote"
    return Problem(check, message, line=line, column=column)


def stage_file(connection: duckdb.DuckDBPyConnection, path: Path, header: list[str]) -> StagedFile:
    """Read every record of `path` as text into a temporary table; unreadable records become problems."""
    columns = {f"c{index}": "VARCHAR" for index in range(1, len(header) + 1)}
    connection.execute(
        f"""
        create or replace temp table {STAGED_TABLE} as
        select row_number() over () as record, *
        from read_csv(
            ?, columns = ?, header = true, auto_detect = false,
            delim = ',', quote = '"', escape = '"', encoding = 'utf-8',
            store_rejects = true, rejects_table = 'delivery_rejects', rejects_scan = 'delivery_reject_scans'
        )
        """,
        [str(path), columns],
    )
    # DuckDB reports a short row once per missing field; one problem per line and kind is enough.
    rejects = connection.execute(
        """
        select line, arg_min(column_name, column_idx), error_type, arg_min(error_message, column_idx)
        from delivery_rejects group by line, error_type order by line, error_type
        """
    ).fetchall()
    connection.execute("drop table if exists delivery_rejects")
    connection.execute("drop table if exists delivery_reject_scans")
    rows = connection.execute(f"select count(*) from {STAGED_TABLE}").fetchone()[0]
    problems = [_reject_problem(header, *reject) for reject in rejects]
    if rows == 0 and not problems:
        problems.append(Problem("no_rows", "the file has a header but no rows"))
    return StagedFile(header, rows, problems, LineNumbers([reject[0] for reject in rejects]))
