"""The common case in one pass: a clean application file read typed by DuckDB straight into `raw.applications`.

Staging a file as text, checking the text and casting it again read every field three
times (4.9 x DuckDB's bare read of the file). Here DuckDB's CSV reader parses each number
as it reads and the rows go straight into the raw table, inside the load's transaction.

The reader is trusted only where it agrees with the contract (`contract_checks`), and
anything it cannot vouch for rolls the transaction back and sends the file to the staged
check, which reports every problem with its line and column exactly as before:

- a row the reader rejects: a structural problem, or a field that is not a number. The
  reader takes no number the contract's cast refuses (tests/warehouse/ingestion/test_direct_load.py
  holds DuckDB to that), but refuses some the cast takes (a field of spaces only, which the
  contract reads as missing; a number padded with a no-break space): those go the long way;
- a column the contract does not know: the reader would skip it unread, bytes that are not
  UTF-8 included, which the staged check rejects;
- an underscore next to a digit anywhere in the file: DuckDB reads `1_000` as 1000 and the
  contract refuses it, and only the bytes can tell (`FileScan`);
- an infinite or NaN number, or a fraction or a too-large value in a whole-number column,
  which stop the insert by `error()`;
- an empty, repeated or already-delivered id, or a target other than 0 or 1.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from warehouse.ingestion.contract import COLUMN_TYPES, FLOAT, INTEGER, TEXT
from warehouse.ingestion.contract_checks import VALID_TARGETS, raw_application_columns, typed_sql

_BLOCK_BYTES = 1 << 20
_DIGITS = frozenset(b"0123456789")
_REJECTS_TABLE, _REJECT_SCANS_TABLE = "direct_load_rejects", "direct_load_reject_scans"
# Numbers are read as DOUBLE, whole ones too, so `3.0` reads as 3 and `1.5` is caught, not rounded.
_READ_TYPES = {TEXT: TEXT, INTEGER: "DOUBLE", FLOAT: "DOUBLE"}


class NotClean(Exception):
    """The reader or a typed check found something the staged check must judge."""


@dataclass(frozen=True)
class FileScan:
    """What one read of the file's bytes tells: its sha256, and whether a number could hide digit grouping."""

    sha256: str
    digit_underscore: bool
    version: tuple[int, int]  # size and mtime (ns) when read: the one-pass read must see the same file


def scan_file(path: Path) -> FileScan:
    """The file's sha256 and whether any `_` touches a digit, in one streaming read."""
    digest = hashlib.sha256()
    found = False
    in_header = True  # the header's own names (`FLAG_DOCUMENT_2`) are not values
    previous = b""
    with open(path, "rb") as handle:
        status = os.fstat(handle.fileno())
        for block in iter(lambda: handle.read(_BLOCK_BYTES), b""):
            digest.update(block)
            body = block
            if in_header:
                end = block.find(b"\n")
                in_header = end == -1
                body = b"" if in_header else block[end + 1 :]
            if not found and body:
                found = _underscore_by_digit(previous + body)
                previous = body[-1:]
    return FileScan(digest.hexdigest(), found, (status.st_size, status.st_mtime_ns))


def _underscore_by_digit(data: bytes) -> bool:
    at = data.find(b"_")
    while at != -1:
        if (at > 0 and data[at - 1] in _DIGITS) or (at + 1 < len(data) and data[at + 1] in _DIGITS):
            return True
        at = data.find(b"_", at + 1)
    return False


def _read_type(name: str) -> str:
    """How the reader reads a contract column; a type this module has no rule for is an error, not a guess."""
    return _READ_TYPES[COLUMN_TYPES[name]]


def _value_sql(column: str, sql_type: str) -> str:
    if sql_type == TEXT:
        return typed_sql(column, TEXT)
    if sql_type == INTEGER:
        whole = f"isfinite({column}) and {column} = trunc({column}) and abs({column}) < 9e15"
        return (
            f"case when {column} is null then null when {whole} then cast({column} as BIGINT)"
            " else error('not whole') end"
        )
    return f"case when {column} is null or isfinite({column}) then {column} else error('not finite') end"


def _insert_sql(header: list[str]) -> str:
    return (
        "insert into raw.applications select "
        + ", ".join(raw_application_columns(header, _value_sql))
        + ", ? as delivery_file, ? as application_month, ? as loaded_at from read_csv("
        "?, columns = ?, header = true, auto_detect = false,"
        " delim = ',', quote = '\"', escape = '\"', encoding = 'utf-8',"
        f" store_rejects = true, rejects_table = '{_REJECTS_TABLE}', rejects_scan = '{_REJECT_SCANS_TABLE}')"
    )


_GATE_SQL = f"""
select
    count(*),
    count(*) filter (where sk_id_curr is null),
    count(*) - count(distinct sk_id_curr),
    count(*) filter (where target not in {VALID_TARGETS})
from raw.applications where delivery_file = ?
"""

_DELIVERED_BEFORE_SQL = """
select count(*) from raw.applications as new
where new.delivery_file = ? and exists (
    select 1 from raw.applications as old where old.sk_id_curr = new.sk_id_curr and old.delivery_file <> ?
)
"""


def insert_clean_file(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    header: list[str],
    file_name: str,
    month: date | None,
    loaded_at: datetime,
    scan: FileScan,
) -> int:
    """Insert the file's rows in the open transaction and return their count; `NotClean` if any doubt.

    Only a file whose every column is in the contract is read this way. The caller rolls back
    on `NotClean`, then calls `drop_rejects` (a failed statement aborts the transaction, so
    nothing more can run in it). Any other DuckDB error (out of memory, disk full) is raised.
    """
    if any(name not in COLUMN_TYPES for name in header):
        raise NotClean("a column the contract does not know")
    columns = {f"c{index}": _read_type(name) for index, name in enumerate(header, start=1)}
    try:
        connection.execute(_insert_sql(header), [file_name, month, loaded_at, str(path), columns])
    except duckdb.InvalidInputException as error:  # what error() raises: a value the contract refuses
        raise NotClean(str(error).splitlines()[0]) from error
    now = path.stat()
    if (now.st_size, now.st_mtime_ns) != scan.version:
        raise NotClean("the file changed since it was scanned")  # the scan for digit grouping read another version
    rejected = connection.execute(f"select count(*) from {_REJECTS_TABLE}").fetchone()[0]
    drop_rejects(connection)
    if rejected:
        raise NotClean(f"the reader rejected {rejected:,} fields or rows")
    rows, missing_ids, repeated_ids, bad_targets = connection.execute(_GATE_SQL, [file_name]).fetchone()
    if not rows or missing_ids or repeated_ids or bad_targets:
        raise NotClean("no rows, or an empty or repeated id, or a target other than 0 or 1")
    if connection.execute(_DELIVERED_BEFORE_SQL, [file_name, file_name]).fetchone()[0]:
        raise NotClean("an id delivered before")
    return rows


def drop_rejects(connection: duckdb.DuckDBPyConnection) -> None:
    for table in (_REJECTS_TABLE, _REJECT_SCANS_TABLE):
        connection.execute(f"drop table if exists {table}")
