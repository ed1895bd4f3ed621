"""Load one delivery into `raw.applications` in one transaction, recorded in `raw.load_ledger`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from warehouse.contract import COLUMN_NAMES, COLUMN_TYPES, REQUIRED_COLUMNS
from warehouse.database import connect, quote_identifier, raw_column_name, transaction
from warehouse.deliveries import Delivery, parse_delivery_name


class DeliveryError(ValueError):
    """A delivery that cannot be loaded; the warehouse is left as it was."""


@dataclass(frozen=True)
class LoadResult:
    delivery: Delivery
    sha256: str
    rows: int
    status: str  # "loaded", "replaced" or "unchanged"

    def describe(self) -> str:
        what = self.delivery.file_name
        if self.status == "unchanged":
            return f"{what}: already loaded with the same content (sha256 {self.sha256[:12]}), nothing to do"
        return f"{what}: {self.status} {self.rows:,} rows (sha256 {self.sha256[:12]})"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _typed_select(present_columns: set[str]) -> str:
    """Cast each contract column from text; a column the file lacks (only TARGET may) is null."""
    expressions = []
    for name in COLUMN_NAMES:
        target = quote_identifier(raw_column_name(name))
        if name in present_columns:
            expressions.append(
                f"cast(nullif(trim({quote_identifier(name)}), '') as {COLUMN_TYPES[name]}) as {target}"
            )
        else:
            expressions.append(f"cast(null as {COLUMN_TYPES[name]}) as {target}")
    return ",\n    ".join(expressions)


def _insert_statement(present_columns: set[str]) -> str:
    return (
        "insert into raw.applications\nselect\n    "
        + _typed_select(present_columns)
        + ",\n    ? as delivery_file,\n    ? as application_month,\n    ? as loaded_at\n"
        + "from read_csv(?, header = true, all_varchar = true)"
    )


def _header(connection: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    described = connection.execute(
        "describe select * from read_csv(?, header = true, all_varchar = true)", [str(path)]
    ).fetchall()
    return [row[0] for row in described]


def load_delivery(path: Path, warehouse: Path) -> LoadResult:
    """Load `initial.csv` or `YYYYMM01.csv`; the same content again is a no-op, new content replaces the month."""
    path = Path(path)
    if not path.is_file():
        raise DeliveryError(f"{path}: no such file")
    delivery = parse_delivery_name(path.name)
    sha256 = file_sha256(path)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with connect(warehouse) as connection:
        previous = loaded_sha256(connection, delivery.file_name)
        if previous == sha256:
            return LoadResult(delivery, sha256, 0, "unchanged")
        header = _header(connection, path)
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise DeliveryError(f"{path.name}: required columns missing: {', '.join(missing)}")
        present = set(header) & set(COLUMN_NAMES)
        month: date | None = delivery.month
        with transaction(connection):
            connection.execute("delete from raw.applications where delivery_file = ?", [delivery.file_name])
            try:
                connection.execute(
                    _insert_statement(present), [delivery.file_name, month, now, str(path)]
                )
            except duckdb.Error as error:
                raise DeliveryError(f"{path.name}: {error}") from error
            rows = connection.execute(
                "select count(*) from raw.applications where delivery_file = ?", [delivery.file_name]
            ).fetchone()[0]
            status = "replaced" if previous else "loaded"
            connection.execute(
                "insert into raw.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?)",
                [delivery.file_name, month, status, rows, sha256, str(path.resolve()), None, now],
            )
    return LoadResult(delivery, sha256, rows, status)

