"""Whether month M's model was trained ahead: what decides the job of M's run.

From Dagster's records and the model store only: the sensor that asks never takes the warehouse's lock.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.asset_keys import CREDIT_DEFAULT_MODEL
from assets.partitions import partition_key
from assets.record_names import MONTHLY_PIPELINE, PARTITION_TAG, SCORE_MONTH, TRAIN_AHEAD
from ml.model_store import CARD_FILE, model_dir
from warehouse.paths import DataPaths

ACTIVE_RUN_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def ready_model(instance: dg.DagsterInstance, paths: DataPaths, month: date) -> str | None:
    """The version of month M's latest materialised model, if its files are still in the model store."""
    latest = dg.AssetRecordsFilter(asset_key=CREDIT_DEFAULT_MODEL, asset_partitions=[partition_key(month)])
    records = instance.fetch_materializations(latest, limit=1).records
    if not records:
        return None
    version = records[0].asset_materialization.metadata.get("model_version")
    if version is None:
        return None
    try:
        card = model_dir(paths.models, version.value) / CARD_FILE
    except ValueError:
        return None  # not a version this project writes
    return version.value if card.exists() else None


def training_under_way(instance: dg.DagsterInstance, month: date) -> bool:
    """A train_ahead run of month M is queued or running: M's run, queued after it, will find the model."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=TRAIN_AHEAD, statuses=ACTIVE_RUN_STATUSES, tags={PARTITION_TAG: partition_key(month)}
        ),
        limit=1,
    )
    return bool(runs)


def month_job_name(instance: dg.DagsterInstance, paths: DataPaths, month: date) -> str:
    """score_month when M's model is ready or being trained ahead; else monthly_pipeline, which trains it first."""
    if ready_model(instance, paths, month) or training_under_way(instance, month):
        return SCORE_MONTH
    return MONTHLY_PIPELINE
