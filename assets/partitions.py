"""An application month is a partition: month M loads, trains for and scores M's deliveries."""

from __future__ import annotations

from datetime import date

import dagster as dg

from warehouse.deliveries import FIRST_MONTH, parse_month

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH.isoformat())


def partition_month(partition_key: str) -> date:
    """The partition key (`YYYY-MM-01`) as a validated month."""
    return parse_month(partition_key)


def partition_key(month: date) -> str:
    return f"{month:%Y-%m-01}"
