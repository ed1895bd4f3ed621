"""An application month is a partition: month M loads, trains for and scores M's deliveries."""

from __future__ import annotations

import warnings
from datetime import date

import dagster as dg

from warehouse.ingestion.delivery_names import FIRST_MONTH, parse_month

# The month in progress is a partition too: its model is trained ahead, as soon as the month
# before it is published, while its applications are still being made.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH.isoformat(), end_offset=1)

# A backfill runs one month per run, oldest first: month M's training set needs the months before it.
# Every monthly asset says so; left out, dagster-dbt's single-run default makes Dagster warn on each run.
month_by_month = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
warnings.filterwarnings(
    "ignore",
    message="Parameter `(backfill_policy|allow_nonexistent_upstream_partitions)` .* is currently in beta",
    category=dg.BetaWarning,
)

# Month M's model is trained from what month M-1's run published: its features, labels and deliveries.
# So a replaced delivery of M-1 marks M's training set and model stale, and M's own file never feeds them.
# The first month's model reads the history only: there is no month before it.
PREVIOUS_MONTH = dg.TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


def partition_month(partition_key: str) -> date:
    """The partition key (`YYYY-MM-01`) as a validated month."""
    return parse_month(partition_key)


def partition_key(month: date) -> str:
    return f"{month:%Y-%m-01}"
