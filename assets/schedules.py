"""The monthly schedule: on the 2nd of each month, run the month that just ended, unless it is done.

The inbox sensor usually runs a month as soon as its file lands; the schedule is the
backstop. It skips a month whose outbox file was published already, and otherwise starts
the month's run as the inbox sensor would: without the training steps when the month's model
was trained ahead, else the whole `monthly_pipeline`, which trains the month's model with the
latest one's budget and seed (assets/carried_model_config.py). The run fails (and notifies) when the
month's file has not arrived: a late delivery is news. It is off until an operator turns it
on (`make demo` data are from 2020-2021).
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.asset_keys import MONTHLY_OUTBOX
from assets.carried_model_config import carried_model_config
from assets.jobs import MODEL_ASSETS, monthly_pipeline
from assets.model_readiness import month_job_name
from assets.partitions import partition_key
from assets.record_names import SCORE_MONTH
from assets.resources import WarehouseResource
from warehouse.ingestion.delivery_names import FIRST_MONTH, add_months


def due_month(run_date: date) -> date:
    """The month a run on `run_date` is for: the previous calendar month."""
    return add_months(run_date.replace(day=1), -1)


@dg.schedule(
    cron_schedule="0 6 2 * *",
    job=monthly_pipeline,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="06:00 UTC on the 2nd: runs last month unless its outbox file is published already.",
)
def monthly_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    month = due_month(context.scheduled_execution_time.date())
    if month < FIRST_MONTH:
        return dg.SkipReason(f"{month:%Y-%m} is before the first monitored month {FIRST_MONTH:%Y-%m}")
    key = partition_key(month)
    if key in context.instance.get_materialized_partitions(MONTHLY_OUTBOX):
        return dg.SkipReason(f"{month:%Y-%m} is published already")
    asset_selection, run_config, tags = None, {}, {"credit/trigger": "monthly_schedule"}
    if month_job_name(context.instance, warehouse.paths, month) == SCORE_MONTH:
        # The month's model was trained ahead: run score_month's part of the pipeline, training
        # nothing, as when the file lands in the inbox. (A schedule targets one job.)
        everything = monthly_pipeline.selection.resolve(context.repository_def.asset_graph)
        asset_selection = sorted(everything - MODEL_ASSETS.resolve(context.repository_def.asset_graph))
    else:  # trains the month's model first: as the latest model was trained
        carried = carried_model_config(context.instance, month)
        context.log.info(f"{month:%Y-%m}'s model is trained first; model config {carried.note}")
        run_config, tags = carried.run_config(), {**tags, **carried.tags()}
    return dg.RunRequest(
        run_key=f"scheduled-{key}",
        partition_key=key,
        asset_selection=asset_selection,
        run_config=run_config,
        tags=tags,
    )
