"""The monthly job: load, features, training set, model, predictions and outbox for one month."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

# Transient failures (the warehouse locked past the wait, a full disk freed, an I/O error) are
# retried after 1 then 2 minutes. A failure that would repeat, such as a rejected delivery,
# raises `dg.Failure(allow_retries=False)` and fails at once.
TRANSIENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL)

monthly_pipeline = dg.define_asset_job(
    "monthly_pipeline",
    selection=dg.AssetSelection.all(),
    description=(
        "Everything for one application month: the inbox file, features, training set, model, scores, outbox CSV,"
        " monitoring marts and the BI copy."
    ),
    op_retry_policy=TRANSIENT_RETRIES,
)


@contextmanager
def not_retried(*errors: type[Exception]) -> Iterator[None]:
    """Errors that would repeat on a retry (bad data, a failed dbt test) fail the step at once."""
    try:
        yield
    except errors as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
