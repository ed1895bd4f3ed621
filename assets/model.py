"""Training set and model of a month: thin wrappers over `ml/`."""

import json

import dagster as dg

from assets.dbt import APPLICATION_FEATURES, APPLICATION_LABELS
from assets.deliveries import MONTH_DELIVERIES
from assets.partitions import month_by_month, monthly_partitions, partition_month
from assets.resources import WarehouseResource
from ml.dataset import fingerprint, read_training_set, split_out_of_time, write_training_set
from ml.model_store import reusable_card, save_model
from ml.registry import CHAMPION, DEFAULT_TOLERANCE, champion_as_of, register
from ml.training import TrainingConfig, train_model
from warehouse.database import connect


def training_set_path(warehouse: WarehouseResource, partition_key: str):
    return warehouse.paths.training_sets / f"{partition_month(partition_key):%Y-%m}.parquet"


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    deps=[APPLICATION_FEATURES, APPLICATION_LABELS, *MONTH_DELIVERIES],
    group_name="model",
    kinds={"python", "parquet"},
    pool="warehouse",
)
def training_set(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every labelled application delivered before the month (history included), as a Parquet snapshot."""
    month = partition_month(context.partition_key)
    with connect(warehouse.paths.warehouse, read_only=True) as connection:
        summary = write_training_set(connection, month, training_set_path(warehouse, context.partition_key))
    context.log.info(f"training set for {month:%Y-%m}: {summary.rows:,} rows, default rate {summary.default_rate:.2%}")
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(summary.rows),
            "default_rate": dg.MetadataValue.float(round(summary.default_rate, 5)),
            "history_rows": dg.MetadataValue.int(summary.history_rows),
            "latest_month": dg.MetadataValue.text(f"{summary.latest_month:%Y-%m}" if summary.latest_month else "history only"),
            "fingerprint": dg.MetadataValue.text(summary.fingerprint),
            "path": dg.MetadataValue.path(str(summary.path)),
        }
    )


class ModelConfig(dg.Config):
    """Tuning budget and seed; changing any of them trains a new model instead of reusing one."""

    n_trials: int = TrainingConfig.n_trials
    tuning_rows: int = TrainingConfig.tuning_rows
    seed: int = TrainingConfig.seed
    # How much worse (validation AUC) a new model may be than the champion and still replace it.
    promotion_tolerance: float = DEFAULT_TOLERANCE


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    deps=[training_set, *MONTH_DELIVERIES],
    group_name="model",
    kinds={"lightgbm", "optuna"},
    pool="warehouse",
)
def credit_default_model(
    context: dg.AssetExecutionContext, config: ModelConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """LightGBM default model of the month, tuned by Optuna and validated out of time; reused when its training set is unchanged; registered, and promoted only if it does not lose to the champion."""
    month = partition_month(context.partition_key)
    paths = warehouse.paths
    frame = read_training_set(training_set_path(warehouse, context.partition_key))
    training_fingerprint = fingerprint(frame)
    training_config = TrainingConfig(n_trials=config.n_trials, tuning_rows=config.tuning_rows, seed=config.seed)
    card = reusable_card(paths.models, month, training_fingerprint, training_config)
    reused = card is not None
    if reused:
        context.log.info(f"model {card.version} was trained on these exact rows with this config: reused")
    else:
        trained = train_model(frame, training_config, progress=context.log.info)
        card = save_model(trained, month, training_fingerprint, training_config, paths.models)
    with connect(paths.warehouse) as connection:
        decision = register(connection, card, split_out_of_time(frame)[1], paths.models, config.promotion_tolerance)
        champion = champion_as_of(connection, month)
    log = context.log.info if decision["status"] == CHAMPION else context.log.warning
    log(f"model {card.version}: {decision['status']} ({decision['decision_reason']}); {month:%Y-%m} is scored by {champion[0]}")
    return dg.MaterializeResult(
        metadata={
            "model_version": dg.MetadataValue.text(card.version),
            "registry_status": dg.MetadataValue.text(decision["status"]),
            "decision_reason": dg.MetadataValue.text(decision["decision_reason"]),
            "scoring_model": dg.MetadataValue.text(champion[0]),
            "validation_auc": dg.MetadataValue.float(card.metrics["validation_auc"]),
            "best_iteration": dg.MetadataValue.int(card.metrics["best_iteration"]),
            "train_rows": dg.MetadataValue.int(card.metrics["train_rows"]),
            "features": dg.MetadataValue.int(len(card.feature_names)),
            "params": dg.MetadataValue.json(json.loads(json.dumps(card.params))),
            "reused": dg.MetadataValue.bool(reused),
            "path": dg.MetadataValue.path(str(paths.models / card.month)),
        }
    )
