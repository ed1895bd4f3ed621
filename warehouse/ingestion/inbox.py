"""The inbox rule for a month's run: load what the month needs that the ledger lacks or holds other content of.

A month M needs the history file, its own applications file, and every outcome file
dated M or earlier (outcomes dated later must not reach M's training set, so they
wait in the inbox for their month). Files in the inbox with other names are not
touched here: only a delivery name that parses ever becomes a path to read.

A file in the inbox whose content was loaded once and replaced since (say by `credit
load` of a correction from elsewhere) is an old version: it is left alone, so a re-run
never undoes a correction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from warehouse.database import connect
from warehouse.ingestion.delivery_names import (
    HISTORY_FILE,
    DeliveryNameError,
    month_file_name,
    parse_delivery_name,
)
from warehouse.ingestion.ledger import loaded_sha256
from warehouse.ingestion.loader import DeliveryError, LoadResult, Progress, load_delivery
from warehouse.paths import DataPaths


def _ledger_has(paths: DataPaths, file_name: str) -> bool:
    with connect(paths.warehouse) as connection:
        return loaded_sha256(connection, file_name) is not None


# Loads one file with the inbox's rule (`skip_superseded`): the engine's loader (`assets/engines.py`).
Loader = Callable[[Path, Progress | None], LoadResult]


def _load_required(
    paths: DataPaths, file_name: str, what: str, progress: Progress | None, load: Loader
) -> LoadResult | None:
    candidate = paths.inbox / file_name
    if candidate.is_file():
        return load(candidate, progress)
    if _ledger_has(paths, file_name):
        return None
    raise DeliveryError(
        f"no {what}: {candidate} does not exist and it was never loaded "
        f"(put the file in the inbox, or run `credit load FILE`)"
    )


def outcome_files_due(paths: DataPaths, month: date) -> list[str]:
    """Outcome files in the inbox dated `month` or earlier, oldest first."""
    due = []
    for candidate in paths.inbox.glob("outcomes_*.csv"):
        try:
            delivery = parse_delivery_name(candidate.name)
        except DeliveryNameError:
            continue  # left for the operator (and the sensor) to see; never read here
        if delivery.is_outcomes and delivery.month <= month:
            due.append(delivery.file_name)
    return sorted(due)


def load_month_from_inbox(
    paths: DataPaths, month: date, progress: Progress | None = None, load: Loader | None = None
) -> list[LoadResult]:
    """Make sure the history, the month's file and its due outcomes are in the warehouse; returns what was done.

    `load` loads one file, content replaced since it was loaded left alone; by default, into DuckDB.
    """
    load = load or (lambda path, say: load_delivery(path, paths, say, skip_superseded=True))
    results = [
        _load_required(paths, HISTORY_FILE, "history file", progress, load),
        _load_required(paths, month_file_name(month), f"delivery for {month:%Y-%m}", progress, load),
    ]
    results.extend(load(paths.inbox / name, progress) for name in outcome_files_due(paths, month))
    return [result for result in results if result is not None]
