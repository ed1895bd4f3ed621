"""An application month is a partition: month M loads, trains for and scores M's deliveries."""

from __future__ import annotations

import warnings
from datetime import date

import dagster as dg

from warehouse.ingestion.delivery_names import FIRST_MONTH, parse_month

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH.isoformat())

# A backfill runs one month per run, oldest first: month M's training set needs the months before it.
# Every monthly asset says so; left out, dagster-dbt's single-run default makes Dagster warn on each run.
month_by_month = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
warnings.filterwarnings(
    "ignore", message="Parameter `backfill_policy` .* is currently in beta", category=dg.BetaWarning
)


def partition_month(partition_key: str) -> date:
    """The partition key (`YYYY-MM-01`) as a validated month."""
    return parse_month(partition_key)


def partition_key(month: date) -> str:
    return f"{month:%Y-%m-01}"
