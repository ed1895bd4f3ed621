"""Whether month M's model was trained ahead: what decides the job of M's run, and what lets it score.

The choice of job reads Dagster's records and the model store only: the sensor that asks never takes
the warehouse's lock. Before a month run scores with a model trained ahead, it checks that the
training finished and that no delivery it read has changed since.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb

from assets.asset_keys import CREDIT_DEFAULT_MODEL, RAW_APPLICATIONS, RAW_OUTCOMES, TRAINING_SET
from assets.partitions import partition_key
from assets.record_names import INPUTS_VERSION, MONTHLY_PIPELINE, PARTITION_TAG, SCORE_MONTH, TRAIN_AHEAD
from ml.model_store import CARD_FILE, model_dir
from warehouse.ingestion.ledger import inputs_version, training_inputs
from warehouse.paths import DataPaths

ACTIVE_RUN_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def latest_materialisation(instance: dg.DagsterInstance, key: dg.AssetKey, month: date) -> dg.EventLogRecord | None:
    """The latest materialisation of the asset's month, or None."""
    latest = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition_key(month)])
    records = instance.fetch_materializations(latest, limit=1).records
    return records[0] if records else None


def ready_model(instance: dg.DagsterInstance, paths: DataPaths, month: date) -> str | None:
    """The version of month M's latest materialised model, if its files are still in the model store."""
    record = latest_materialisation(instance, CREDIT_DEFAULT_MODEL, month)
    if record is None:
        return None
    version = record.asset_materialization.metadata.get("model_version")
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


def deliveries_changed_since(instance: dg.DagsterInstance, month: date, storage_id: int) -> bool:
    """A delivery of a month before M (a correction, a late outcome file) was recorded after `storage_id`.

    Dagster's records of the raw assets, which `credit load` and every run keep current
    (assets/staleness.py): so the sensor can tell without opening the warehouse.
    """
    for key in (RAW_APPLICATIONS, RAW_OUTCOMES):
        for partition, latest in instance.get_latest_storage_id_by_partition(
            key, dg.DagsterEventType.ASSET_MATERIALIZATION
        ).items():
            if partition < partition_key(month) and latest > storage_id:
                return True
    return False


def month_job_name(instance: dg.DagsterInstance, paths: DataPaths, month: date) -> str:
    """score_month when M's model is ready and current, or being trained ahead; else monthly_pipeline.

    monthly_pipeline trains M's model first, or reuses one trained on the very same rows.
    """
    if training_under_way(instance, month):
        return SCORE_MONTH
    model = latest_materialisation(instance, CREDIT_DEFAULT_MODEL, month)
    if ready_model(instance, paths, month) and not deliveries_changed_since(instance, month, model.storage_id):
        return SCORE_MONTH
    return MONTHLY_PIPELINE


def trained_ahead_problem(
    instance: dg.DagsterInstance, connection: duckdb.DuckDBPyConnection, month: date
) -> str | None:
    """Why month M may not be scored without training first, or None.

    M's latest training set must have been followed by M's model (a training that failed after it,
    or never ran, leaves none), and every delivery that training set read must be the version
    loaded now: a correction or a late outcome file of an earlier month makes M's model out of date.
    """
    training = latest_materialisation(instance, TRAINING_SET, month)
    model = latest_materialisation(instance, CREDIT_DEFAULT_MODEL, month)
    retrain = f"train it (`credit train {month:%Y-%m}`), then run {month:%Y-%m} again"
    if training is None or model is None or model.storage_id < training.storage_id:
        return f"{month:%Y-%m} has no model trained ahead on its latest training set: {retrain}"
    recorded = training.asset_materialization.metadata.get(INPUTS_VERSION)
    if recorded is None or recorded.value != inputs_version(training_inputs(connection, month)):
        return f"deliveries before {month:%Y-%m} changed after its model was trained ahead: {retrain}"
    return None
