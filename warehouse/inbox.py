"""The inbox rule: a month's run loads `inbox/<file>` only when the ledger lacks it or holds other content."""

from __future__ import annotations

from datetime import date

from warehouse.database import connect
from warehouse.deliveries import HISTORY_FILE, month_file_name
from warehouse.loader import DeliveryError, LoadResult, load_delivery, loaded_sha256
from warehouse.paths import DataPaths


def _ledger_has(paths: DataPaths, file_name: str) -> bool:
    with connect(paths.warehouse) as connection:
        return loaded_sha256(connection, file_name) is not None


def _load_from_inbox(paths: DataPaths, file_name: str, what: str) -> LoadResult | None:
    candidate = paths.inbox / file_name
    if candidate.is_file():
        return load_delivery(candidate, paths.warehouse)
    if _ledger_has(paths, file_name):
        return None
    raise DeliveryError(
        f"no {what}: {candidate} does not exist and it was never loaded "
        f"(put the file in the inbox, or run `credit load FILE`)"
    )


def load_month_from_inbox(paths: DataPaths, month: date) -> list[LoadResult]:
    """Make sure the history and the month's file are in the warehouse; returns what was done."""
    results = [
        _load_from_inbox(paths, HISTORY_FILE, "history file"),
        _load_from_inbox(paths, month_file_name(month), f"delivery for {month:%Y-%m}"),
    ]
    return [result for result in results if result is not None]
