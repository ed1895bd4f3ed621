"""Training set and model of a month: thin wrappers over `ml/`."""

import dataclasses
import json
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.dbt_models import APPLICATION_FEATURES, APPLICATION_LABELS
from assets.jobs import not_retried
from assets.partitions import PREVIOUS_MONTH, month_by_month, monthly_partitions, partition_month
from assets.raw_deliveries import MONTH_DELIVERIES
from assets.record_names import INPUTS_VERSION, TRAIN_AHEAD
from assets.resources import WarehouseResource
from ml.champion import CHAMPION, champion_as_of
from ml.dataset import ID_COLUMN, file_fingerprint, label_deliveries, read_training_rows
from ml.features import default_catalog
from ml.model_store import (
    PLOTS,
    REPORT_FILE,
    ModelCard,
    latest_card,
    load_model,
    report_dir,
    reusable_card,
    save_model,
    validation_scores,
)
from ml.registry import DEFAULT_TOLERANCE, card_windows, register
from ml.reports.html_page import png_base64
from ml.swap_set import describe as describe_swap_set
from ml.training_config import TrainingConfig
from warehouse.database import connect
from warehouse.fair_lending import protected_attributes, require_policy
from warehouse.ingestion.delivery_names import FIRST_MONTH, add_months
from warehouse.ingestion.ledger import inputs_version, months_missing_before, training_inputs, unbuilt_deliveries
from warehouse.publishing.bi_copy import REGISTRY_TABLE, publish_table


def training_set_path(warehouse: WarehouseResource, partition_key: str):
    return warehouse.paths.training_sets / f"{partition_month(partition_key):%Y-%m}.parquet"


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    deps=[
        dg.AssetDep(upstream, partition_mapping=PREVIOUS_MONTH)
        for upstream in (APPLICATION_FEATURES, APPLICATION_LABELS, *MONTH_DELIVERIES)
    ],
    group_name="model",
    kinds={"python", "parquet"},
    pool="warehouse",
)
def training_set(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every application delivered before the month (history included) with its label as known then, in Parquet.

    Labels as month M-1 was published: an outcome file delivered with M counts from M+1's model on.
    """
    month = partition_month(context.partition_key)
    engine = warehouse.warehouse_engine()
    with not_retried(ValueError):
        with connect(warehouse.paths.warehouse, read_only=True) as connection:
            missing = months_missing_before(connection, month)
        if missing:
            raise ValueError(
                f"{month:%Y-%m} cannot train: {', '.join(f'{m:%Y-%m}' for m in missing)} not loaded yet;"
                " run those months first"
            )
        previous = add_months(month, -1)
        previous_built = engine.has_features(previous)
        if previous_built is None:
            raise ValueError(
                f"{month:%Y-%m} cannot train: no features are built yet; a month's run builds them"
                f" (credit run {month:%Y-%m} trains its model first thing)"
            )
        if previous >= FIRST_MONTH and not previous_built:
            raise ValueError(
                f"{month:%Y-%m} cannot train: {previous:%Y-%m} is loaded but its features were never built"
                f" (its run failed?); run {previous:%Y-%m} first"
            )
        built = engine.built_deliveries(month)
        # The ledger read after the marts, which only a feature build changes: the deliveries recorded as
        # read (INPUTS_VERSION) are then the versions the training set holds. A load after this read
        # leaves the record as it was, and the readiness check at scoring sees the change.
        with connect(warehouse.paths.warehouse, read_only=True) as connection:
            unbuilt = unbuilt_deliveries(connection, month, built)
            deliveries = training_inputs(connection, month)
        if unbuilt.unrecorded:
            raise ValueError(
                f"{month:%Y-%m} cannot train: the marts hold rows of {', '.join(unbuilt.unrecorded)}, whose last"
                " load never finished; load it again (`credit load FILE`), then build the features and train"
            )
        if unbuilt.stale:
            rerun = previous if previous >= FIRST_MONTH else month  # the first month's own run builds them
            raise ValueError(
                f"{month:%Y-%m} cannot train: {', '.join(unbuilt.stale)} loaded after the features were last"
                f" built, so the marts hold another version; build the features again, then train:"
                f" `credit run {rerun:%Y-%m}` builds them first (and scores and publishes {rerun:%Y-%m} again),"
                f" as does materialising the dbt models of {rerun:%Y-%m} in the UI"
            )
        summary = engine.write_training_set(month, training_set_path(warehouse, context.partition_key))
    context.log.info(f"training set for {month:%Y-%m}: {summary.rows:,} rows, default rate {summary.default_rate:.2%}")
    return dg.MaterializeResult(
        # The rows themselves: the same rows written again leave the model built from them up to date.
        data_version=dg.DataVersion(summary.fingerprint),
        metadata={
            "rows": dg.MetadataValue.int(summary.rows),
            "default_rate": dg.MetadataValue.float(round(summary.default_rate, 5)),
            "history_rows": dg.MetadataValue.int(summary.history_rows),
            "latest_month": dg.MetadataValue.text(
                f"{summary.latest_month:%Y-%m}" if summary.latest_month else "history only"
            ),
            "fingerprint": dg.MetadataValue.text(summary.fingerprint),
            "label_deliveries": dg.MetadataValue.text(", ".join(summary.label_deliveries)),
            # Every delivery it was read from, by version: a month run scoring with a model trained
            # ahead checks that none changed since (assets/model_readiness.py).
            "deliveries": dg.MetadataValue.md("\n".join(f"- `{name}` sha256 `{sha}`" for name, sha in deliveries)),
            INPUTS_VERSION: dg.MetadataValue.text(inputs_version(deliveries)),
            "path": dg.MetadataValue.path(str(summary.path)),
        },
    )


class ModelConfig(dg.Config):
    """How the month's model is trained and promoted, as the launchpad shows it.

    The training fields and their defaults are `ml.training.TrainingConfig`'s, so a notebook and a run train alike;
    a change to any of them, or to the protected attributes, trains a new model instead of reusing one.
    """

    n_trials: int = Field(
        TrainingConfig.n_trials, description="Trials of the Optuna hyper-parameter search (at least 1)."
    )
    timeout_seconds: int = Field(
        TrainingConfig.timeout_seconds,
        description="A cap on the search, in seconds: when it is reached, the trials done so far decide "
        "(the model card says how many ran).",
    )
    tuning_rows: int = Field(
        TrainingConfig.tuning_rows,
        description="Rows of the seeded sample each tuning trial fits on (at least 1,000); more is slower, steadier.",
    )
    seed: int = Field(
        TrainingConfig.seed,
        description="Seed of the sample, the search and LightGBM: one training set and config give one model.",
    )
    promotion_tolerance: float = Field(
        DEFAULT_TOLERANCE,
        description="How much lower a validation AUC than the champion's a new model may have and still replace it.",
    )
    protected_attributes: list[str] = Field(
        default_factory=lambda: list(protected_attributes()),
        description=(
            "Contract columns the model never sees, tunes on or gives as a reason, nor any feature computed from them. "
            "The default is dbt_project.yml's `protected_attributes` var, which the fairness mart monitors."
        ),
    )

    def training_config(self) -> TrainingConfig:
        """`ml`'s config from the fields both share; the ones the launchpad does not show keep their defaults."""
        shared = {field.name for field in dataclasses.fields(TrainingConfig)} & set(type(self).model_fields)
        values = {name: getattr(self, name) for name in shared}
        return TrainingConfig(**{**values, "protected_attributes": tuple(self.protected_attributes)})


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    deps=[training_set],
    group_name="model",
    kinds={"lightgbm", "optuna"},
    pool="warehouse",
)
def credit_default_model(
    context: dg.AssetExecutionContext, config: ModelConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """LightGBM default model of the month, blind to the protected attributes, trained before the month's file.

    Tuned and calibrated on one window, measured on the next, refitted on every row before the month; reused
    when its training set is unchanged; registered, and promoted only if it does not lose to the champion on
    rows neither saw (pending when there are none). Trained ahead (job train_ahead) once the month before is
    published, or first thing in the month's own run when it was not.
    """
    # Optuna and LightGBM's training code load here, in the step that trains, not with the definitions.
    from ml.training import train_model, warm_start_params
    from ml.training_data import TrainingData

    month = partition_month(context.partition_key)
    paths = warehouse.paths
    path = training_set_path(warehouse, context.partition_key)
    data = TrainingData.from_parquet(path)  # the features stay in the file until LightGBM bins them
    training_fingerprint = file_fingerprint(data.parquet)
    with not_retried(ValueError):
        require_policy(config.protected_attributes)
        training_config = config.training_config()
    previous = latest_card(paths.models, add_months(month, -1))
    warm_start = warm_start_params(previous.params if previous else None)
    card = reusable_card(paths.models, month, training_fingerprint, training_config, warm_start)
    reused = card is not None
    if reused:
        context.log.info(f"model {card.version} was trained on these exact rows with this config: reused")
    else:
        with not_retried(ValueError):
            trained = train_model(data, training_config, warm_start, progress=context.log.info)
        card = save_model(
            trained, month, training_fingerprint, training_config, paths.models, warm_start, label_deliveries(data.rows)
        )
    validation = validation_scores(paths.models, card.version)
    validation_rows = read_training_rows(data.parquet, validation[ID_COLUMN])
    with connect(paths.warehouse) as connection:
        decision = register(
            connection,
            card,
            validation_rows,
            validation["probability"].to_numpy(),
            paths.models,
            config.promotion_tolerance,
        )
        champion = champion_as_of(connection, month)
        # Published at once, not with the month's BI copy: the online service swaps to a new champion from it.
        publish_table(connection, REGISTRY_TABLE, paths.serving)
    if not (report_dir(paths.models, card.version) / REPORT_FILE).exists():
        context.log.info("drawing the evaluation report")
        write_model_report(paths.models, card, validation, decision.get("swap_set"))
    log = context.log.info if decision["status"] == CHAMPION else context.log.warning
    scoring = champion[0] if champion else "no model yet"
    outcome = f"{decision['status']} ({decision['decision_reason']})"
    log(f"model {card.version}: {outcome}; {month:%Y-%m} is scored by {scoring}")
    return dg.MaterializeResult(
        # The model, its standing and the month's scoring model: a model reused with the same outcome
        # leaves the month's scores up to date; a new champion, or a new decision on this model, does not.
        data_version=dg.DataVersion(f"{card.version}|{decision['status']}|{scoring}"),
        metadata={
            "model_version": dg.MetadataValue.text(card.version),
            "registry_status": dg.MetadataValue.text(decision["status"]),
            "decision_reason": dg.MetadataValue.text(decision["decision_reason"]),
            "scoring_model": dg.MetadataValue.text(scoring),
            **{name: dg.MetadataValue.float(card.metrics[name]) for name in VALIDATION_FIGURES},
            "calibration_corrected": dg.MetadataValue.bool(card.metrics["calibration_corrected"]),
            "best_iteration": dg.MetadataValue.int(card.metrics["best_iteration"]),
            "refit_rounds": dg.MetadataValue.int(card.metrics["refit_rounds"]),
            "trials": dg.MetadataValue.text(
                f"{card.metrics['trials_complete']} complete, {card.metrics['trials_pruned']} pruned"
            ),
            "warm_started": dg.MetadataValue.bool(card.metrics["warm_started"]),
            "train_rows": dg.MetadataValue.int(card.metrics["train_rows"]),
            "features": dg.MetadataValue.int(len(card.feature_names)),
            "protected_attributes": dg.MetadataValue.text(", ".join(card.protected_attributes or []) or "none"),
            "excluded_features": dg.MetadataValue.int(len(card.excluded_features or [])),
            "windows": windows_markdown(card),
            "params": dg.MetadataValue.json(json.loads(json.dumps(card.params))),
            "reused": dg.MetadataValue.bool(reused),
            # Ahead (its own run, before the month's file) or first thing in the month's run.
            "trained_ahead": dg.MetadataValue.bool(context.job_name == TRAIN_AHEAD),
            "label_deliveries": dg.MetadataValue.text(", ".join(card.label_deliveries or [])),
            # Of the training that made this model (so also shown when it is reused).
            **({"training_seconds": dg.MetadataValue.json(card.timings)} if card.timings else {}),
            "path": dg.MetadataValue.path(str(paths.models / card.version)),
            **report_metadata(paths.models, card.version),
        },
    )


VALIDATION_FIGURES = (
    "validation_auc",
    "validation_ks",
    "validation_brier",
    "calibration_intercept",
    "calibration_slope",
    "calibration_z",
)


def windows_table(card: ModelCard) -> pd.DataFrame:
    return pd.DataFrame(
        [(w.name, w.role, w.describe(), w.used_for) for w in card_windows(card)],
        columns=["window", "role", "rows", "used for"],
    )


def windows_markdown(card: ModelCard) -> dg.MetadataValue:
    lines = ["| window | role | rows | used for |", "|---|---|---|---|"]
    lines += [
        f"| {window} | {role} | {rows} | {used_for} |"
        for window, role, rows, used_for in windows_table(card).itertuples(index=False)
    ]
    return dg.MetadataValue.md("\n".join(lines))


def write_model_report(models_root: Path, card: ModelCard, validation: pd.DataFrame, swap: dict | None) -> None:
    """Plots and HTML of the model's validation window, its windows, and the swap set against the champion."""
    from ml.reports.model_report import write_report  # matplotlib draws: loaded only when a report is drawn

    booster, _ = load_model(models_root, card.version)
    catalog = default_catalog()
    tables = {"Windows": windows_table(card)}
    if swap:
        tables["Swap set against the champion (" + describe_swap_set(swap) + ")"] = pd.DataFrame(
            [
                ("swapped in (challenger approves, champion did not)", *swap["swap_in"].values()),
                ("swapped out (champion approved, challenger does not)", *swap["swap_out"].values()),
                *[(f"changed: {name}", count, None) for name, count in swap["transitions"].items()],
            ],
            columns=["applications", "count", "default rate"],
        )
    write_report(
        report_dir(models_root, card.version),
        f"Model {card.version}: validation window",
        validation["target"].to_numpy(),
        validation["probability"].to_numpy(),
        booster,
        {
            **{
                name: card.metrics[name]
                for name in ("validation_rows", "best_iteration", "refit_rounds", "calibration_corrected")
            },
            "protected attributes (never features)": ", ".join(card.protected_attributes or []) or "none",
        },
        {name: catalog.feature_label(name) for name in card.feature_names},
        tables,
    )


def report_metadata(models_root: Path, version: str) -> dict:
    """The evaluation plots as images the Dagster UI shows, and the HTML report's path."""
    folder = report_dir(models_root, version)
    if not (folder / REPORT_FILE).exists():
        return {}
    metadata = {"report": dg.MetadataValue.path(str(folder / REPORT_FILE))}
    for name in PLOTS:
        metadata[f"plot_{name}"] = dg.MetadataValue.md(
            f"![{name}](data:image/png;base64,{png_base64(folder / f'{name}.png')})"
        )
    return metadata
