"""The jobs: a month's run, with or without training its model first, and a month's model trained ahead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from assets import record_names
from assets.asset_keys import CREDIT_DEFAULT_MODEL, TRAINING_SET

# Transient failures (the warehouse locked past the wait, a full disk freed, an I/O error) are
# retried after 1 then 2 minutes. A failure that would repeat, such as a rejected delivery,
# raises `dg.Failure(allow_retries=False)` and fails at once.
TRANSIENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL)

# Month M's model: its training set and the model, trained, registered and gated.
MODEL_ASSET_KEYS = frozenset({TRAINING_SET, CREDIT_DEFAULT_MODEL})
MODEL_ASSETS = dg.AssetSelection.assets(*MODEL_ASSET_KEYS)

monthly_pipeline = dg.define_asset_job(
    record_names.MONTHLY_PIPELINE,
    selection=dg.AssetSelection.all(),
    description=(
        "Everything for one application month, its model included: the inbox file, features, training set,"
        " model, scores, outbox CSV, monitoring marts and the BI copy. The month's run when no model was"
        " trained ahead for it (the first month, a backfill, a deleted model); a model trained ahead on the"
        " same rows is reused, not trained again."
    ),
    op_retry_policy=TRANSIENT_RETRIES,
)

score_month = dg.define_asset_job(
    record_names.SCORE_MONTH,
    selection=dg.AssetSelection.all() - MODEL_ASSETS,
    description=(
        "Month M's run when M's model was trained ahead: the inbox file, features, scores with the champion,"
        " the outbox CSV, then the monitoring marts and the BI copy. Trains nothing."
    ),
    op_retry_policy=TRANSIENT_RETRIES,
)

train_ahead = dg.define_asset_job(
    record_names.TRAIN_AHEAD,
    selection=MODEL_ASSETS,
    description=(
        "Month M's model, trained from everything published up to M-1 and gated (champion, rejected or"
        " pending) before M's file arrives. Queued when M-1's run succeeds."
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
