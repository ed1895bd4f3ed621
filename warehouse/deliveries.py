"""Delivery file names and application months, validated before they reach a path or SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FIRST_MONTH = date(2020, 10, 1)
HISTORY_FILE = "initial.csv"

_MONTH_FILE = re.compile(r"^(\d{4})(\d{2})01\.csv$")
_MONTH_ARGUMENT = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


class DeliveryNameError(ValueError):
    """A file name or month that is not a valid delivery."""


@dataclass(frozen=True)
class Delivery:
    """One delivered file: the history (`month is None`) or one application month."""

    file_name: str
    month: date | None

    @property
    def is_history(self) -> bool:
        return self.month is None


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
    """`initial.csv` or `YYYYMM01.csv` inside the partition range; anything else is rejected."""
    if file_name == HISTORY_FILE:
        return Delivery(file_name, None)
    match = _MONTH_FILE.match(file_name)
    if not match:
        raise DeliveryNameError(
            f"{file_name!r} is not a delivery name: expected {HISTORY_FILE} or YYYYMM01.csv"
        )
    year, month = int(match.group(1)), int(match.group(2))
    return Delivery(file_name, _checked_month(year, month, file_name, today))


def parse_month(text: str, today: date | None = None) -> date:
    """A month given as `YYYY-MM` or `YYYY-MM-01` (a Dagster partition key)."""
    match = _MONTH_ARGUMENT.match(text)
    if not match:
        raise DeliveryNameError(f"{text!r} is not a month: expected YYYY-MM")
    return _checked_month(int(match.group(1)), int(match.group(2)), text, today)


def month_file_name(month: date) -> str:
    return f"{month:%Y%m}01.csv"
