"""Reading `raw.load_ledger`: which version of each delivery the warehouse holds."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import NamedTuple

import duckdb

from warehouse.ingestion.delivery_names import APPLICATIONS, FIRST_MONTH, HISTORY_FILE, add_months

CURRENT_VERSIONS_SQL = """
select delivery_file, kind, delivery_month, sha256, row_count, status, loaded_at
from raw.load_ledger
where status in ('loaded', 'replaced')
qualify row_number() over (partition by delivery_file order by loaded_at desc) = 1
order by delivery_month nulls first, delivery_file
"""


def loaded_sha256(connection: duckdb.DuckDBPyConnection, file_name: str) -> str | None:
    """The sha256 of the version of this delivery currently in the warehouse, if any."""
    row = connection.execute(
        """
        select sha256 from raw.load_ledger
        where delivery_file = ? and status in ('loaded', 'replaced')
        order by loaded_at desc limit 1
        """,
        [file_name],
    ).fetchone()
    return row[0] if row else None


def is_superseded(connection: duckdb.DuckDBPyConnection, file_name: str, sha256: str) -> bool:
    """True when this content of the file was loaded once and another version has replaced it since."""
    current = loaded_sha256(connection, file_name)
    if current is None or current == sha256:
        return False
    return connection.execute(
        "select count(*) > 0 from raw.load_ledger"
        " where delivery_file = ? and sha256 = ? and status in ('loaded', 'replaced')",
        [file_name, sha256],
    ).fetchone()[0]


def month_inputs(connection: duckdb.DuckDBPyConnection, month: date, outcomes: bool) -> list[tuple[str, str]]:
    """(file, sha256) of the loaded deliveries month M's run reads.

    Applications: the history and every month file dated M or earlier (M's training set reads
    all the months before it), so replacing an earlier month changes the version of every later
    one. Outcomes: every outcome file dated M or earlier.
    """
    if outcomes:
        where, parameters = "kind = 'outcomes' and delivery_month <= ?", [month]
    else:
        where = "(delivery_file = ? or (kind = ? and delivery_month <= ?))"
        parameters = [HISTORY_FILE, APPLICATIONS, month]
    rows = connection.execute(
        f"select delivery_file, sha256 from ({CURRENT_VERSIONS_SQL}) where {where} order by delivery_file",
        parameters,
    ).fetchall()
    return [(file_name, sha256) for file_name, sha256 in rows]


def months_before(month: date) -> list[date]:
    """Every month from the first monitored month through the one before `month`, oldest first."""
    months, current = [], FIRST_MONTH
    while current < month:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def months_missing_before(connection: duckdb.DuckDBPyConnection, month: date) -> list[date]:
    """The months from the first monitored month through M-1 whose file the warehouse lacks, oldest first.

    Month M trains on every row delivered before M, so it may only run once all of them are loaded.
    """
    earlier = months_before(month)
    if not earlier:
        return []
    loaded = {
        row[0]
        for row in connection.execute(
            f"select delivery_month from ({CURRENT_VERSIONS_SQL}) where kind = ? and delivery_month < ?",
            [APPLICATIONS, month],
        ).fetchall()
    }
    return [earlier_month for earlier_month in earlier if earlier_month not in loaded]


def inputs_version(inputs: list[tuple[str, str]]) -> str:
    """One hash of file versions: it changes whenever one of those files is replaced or added."""
    digest = hashlib.sha256()
    for file_name, sha256 in inputs:
        digest.update(f"{file_name}={sha256}\n".encode())
    return digest.hexdigest()[:16]


class UnbuiltDeliveries(NamedTuple):
    """Where month M's training set would read another version of a delivery than the ledger's."""

    stale: list[str]  # loaded after the last feature build: the marts hold an earlier load, or none (oldest first)
    unrecorded: list[str]  # rows in the marts of a load the ledger does not have finished (a Spark write cut short)

    def __bool__(self) -> bool:
        return bool(self.stale or self.unrecorded)


def unbuilt_deliveries(
    connection: duckdb.DuckDBPyConnection, month: date, built: dict[str, set[datetime]]
) -> UnbuiltDeliveries:
    """The deliveries month M's training set reads whose loaded version the marts do not hold (`built`: each
    delivery the marts hold rows of for M, with the loads they came from); empty when they are up to date.

    A delivery loaded after the last feature build (`credit load` between two steps of a run) is
    stale: a training set written then would be recorded as read from the new version.
    """
    names = [file_name for file_name, _ in training_inputs(connection, month)]
    current = (
        connection.execute(
            f"select delivery_file, loaded_at from ({CURRENT_VERSIONS_SQL}) where delivery_file in "
            f"({', '.join('?' for _ in names)}) order by delivery_month nulls first, delivery_file",
            names,
        ).fetchall()
        if names
        else []
    )
    stale = [file_name for file_name, loaded_at in current if built.get(file_name, set()) != {loaded_at}]
    return UnbuiltDeliveries(stale, sorted(set(built) - {file_name for file_name, _ in current}))


def training_inputs(connection: duckdb.DuckDBPyConnection, month: date) -> list[tuple[str, str]]:
    """(file, sha256) of every loaded delivery month M's training set reads: applications and outcomes before M."""
    before = add_months(month, -1)
    return month_inputs(connection, before, outcomes=False) + month_inputs(connection, before, outcomes=True)
