"""Delivery file names and months, validated before they reach a path or SQL.

Three kinds of file are delivered:
- `initial.csv`: the history, applications from before monitoring began, outcomes known;
- `YYYYMM01.csv`: the applications of one month, outcomes known or not yet;
- `outcomes_YYYYMM01.csv`: `SK_ID_CURR,TARGET` for applications delivered earlier,
  known from that date on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FIRST_MONTH = date(2020, 10, 1)
HISTORY_FILE = "initial.csv"

HISTORY = "history"
APPLICATIONS = "applications"
OUTCOMES = "outcomes"

_MONTH_FILE = re.compile(r"^(\d{4})(\d{2})01\.csv$")
_OUTCOMES_FILE = re.compile(r"^outcomes_(\d{4})(\d{2})01\.csv$")
_MONTH_ARGUMENT = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


class DeliveryNameError(ValueError):
    """A file name or month that is not a valid delivery."""


@dataclass(frozen=True)
class Delivery:
    """One delivered file: its name, kind and month (None for the history)."""

    file_name: str
    kind: str
    month: date | None

    @property
    def is_history(self) -> bool:
        return self.kind == HISTORY

    @property
    def is_outcomes(self) -> bool:
        return self.kind == OUTCOMES


def _checked_month(year: int, month: int, shown: str, today: date | None) -> date:
    if not 1 <= month <= 12:
        raise DeliveryNameError(f"{shown!r}: month {month:02d} does not exist")
    first_of_month = date(year, month, 1)
    if first_of_month < FIRST_MONTH:
        raise DeliveryNameError(
            f"{shown!r}: {first_of_month:%Y-%m} is before the first monitored month {FIRST_MONTH:%Y-%m}"
        )
    today = today or date.today()
    if first_of_month > today.replace(day=1):
        raise DeliveryNameError(f"{shown!r}: {first_of_month:%Y-%m} is later than this month")
    return first_of_month


def parse_delivery_name(file_name: str, today: date | None = None) -> Delivery:
    """`initial.csv`, `YYYYMM01.csv` or `outcomes_YYYYMM01.csv` inside the partition range."""
    if file_name == HISTORY_FILE:
        return Delivery(file_name, HISTORY, None)
    for pattern, kind in ((_MONTH_FILE, APPLICATIONS), (_OUTCOMES_FILE, OUTCOMES)):
        match = pattern.fullmatch(file_name)  # `$` alone would also take a name ending in a newline
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            return Delivery(file_name, kind, _checked_month(year, month, file_name, today))
    raise DeliveryNameError(
        f"{file_name!r} is not a delivery name: expected {HISTORY_FILE}, YYYYMM01.csv or outcomes_YYYYMM01.csv"
    )


def parse_month(text: str, today: date | None = None) -> date:
    """A month given as `YYYY-MM` or `YYYY-MM-01` (a Dagster partition key)."""
    match = _MONTH_ARGUMENT.fullmatch(text)
    if not match:
        raise DeliveryNameError(f"{text!r} is not a month: expected YYYY-MM")
    return _checked_month(int(match.group(1)), int(match.group(2)), text, today)


def month_file_name(month: date) -> str:
    return f"{month:%Y%m}01.csv"


def outcomes_file_name(month: date) -> str:
    return f"outcomes_{month:%Y%m}01.csv"


def safe_file_name(file_name: str) -> str:
    """A name that is safe on any file system, for files kept under a name we choose (quarantine)."""
    cleaned = _UNSAFE_FILE_CHARACTERS.sub("_", file_name).lstrip(".")
    return cleaned[:120] or "unnamed"


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after `month` (before it when negative)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)
