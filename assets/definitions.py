"""The one Definitions object: it assembles, it does not define."""

from __future__ import annotations

import dagster as dg

from assets.bi_serving import bi_serving
from assets.dbt_models import credit_dbt_models, credit_dbt_monitoring
from assets.jobs import monthly_pipeline, score_month, train_ahead
from assets.model_training import credit_default_model, training_set
from assets.monitoring_checks import MONITORING_CHECKS
from assets.monthly_outbox import monthly_outbox
from assets.monthly_predictions import monthly_predictions
from assets.raw_deliveries import raw_deliveries
from assets.resources import default_resources
from assets.run_log import RUN_LOGGERS
from assets.schedules import monthly_schedule
from assets.sensors import inbox_sensor, notify_on_failure, notify_on_success, train_next_month

ALL_ASSETS = [
    raw_deliveries,
    credit_dbt_models,
    training_set,
    credit_default_model,
    monthly_predictions,
    monthly_outbox,
    credit_dbt_monitoring,
    bi_serving,
]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=MONITORING_CHECKS,
    jobs=[monthly_pipeline, score_month, train_ahead],
    sensors=[inbox_sensor, notify_on_success, notify_on_failure, train_next_month],
    schedules=[monthly_schedule],
    resources=default_resources(),
    loggers=RUN_LOGGERS,
    # One process, one step at a time: DuckDB allows a single writer.
    executor=dg.in_process_executor,
)
