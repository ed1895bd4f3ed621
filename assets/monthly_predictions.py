"""Scores of a month: `scoring.predictions`, replaced per month (on DuckDB, in one transaction)."""

import math

import dagster as dg
import duckdb

from assets.dbt_models import APPLICATION_FEATURES
from assets.jobs import MODEL_ASSET_KEYS, not_retried
from assets.model_readiness import trained_ahead_problem
from assets.model_training import credit_default_model
from assets.partitions import month_by_month, monthly_partitions, partition_month
from assets.raw_deliveries import MONTH_DELIVERIES
from assets.resources import WarehouseResource
from ml.champion import champion_as_of
from ml.dataset import LABEL_COLUMN
from ml.evaluation import auc
from ml.explanations import REASON_COUNT
from ml.features import excluded_features
from ml.model_store import load_model_text
from ml.scoring import DecisionPolicy
from warehouse.database import connect
from warehouse.engine_setting import engine_name
from warehouse.fair_lending import protected_attributes
from warehouse.month_tables import PREDICTIONS
from warehouse.publishing.decision_policy import write_decision_policy
from warehouse.publishing.predictions_table import LABELS_KNOWN_TODAY

# The month's scores as written, with each application's label as known today (the out-of-time AUC's).
MONTH_SCORES_SQL = f"""
select predictions.default_probability, predictions.decision, predictions.reason_code_1, labels.{LABEL_COLUMN}
from scoring.predictions as predictions
left join {LABELS_KNOWN_TODAY} as labels on labels.sk_id_curr = predictions.sk_id_curr
where predictions.application_month = ?
order by predictions.sk_id_curr
"""


class DecisionConfig(dg.Config):
    """Credit policy probability thresholds (review from, decline from) and how many reasons each decision gives."""

    review_from: float = DecisionPolicy.review_from
    decline_from: float = DecisionPolicy.decline_from
    # Reg B's commentary: more than four principal reasons do not help the applicant.
    reason_count: int = REASON_COUNT


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    deps=[credit_default_model, APPLICATION_FEATURES, *MONTH_DELIVERIES],
    group_name="predictions",
    kinds={engine_name()},
    pool="warehouse",
)
def monthly_predictions(
    context: dg.AssetExecutionContext, config: DecisionConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Default probability, risk grade, decision and up to four reasons for every application of the month.

    In scoring.predictions (the month replaced whole); each reason comes with the applicant's own value.
    """
    month = partition_month(context.partition_key)
    paths = warehouse.paths
    policy = DecisionPolicy(review_from=config.review_from, decline_from=config.decline_from)
    selected = context.job_def.asset_layer.selected_asset_keys
    model_step_in_this_run = MODEL_ASSET_KEYS <= selected

    def scoring_model(connection: duckdb.DuckDBPyConnection) -> str:
        """The month's champion, once it may score the month (the ledger and the registry say so)."""
        if not model_step_in_this_run:
            # The month's model was trained ahead, in another run: it must have been trained, and gated,
            # on exactly the deliveries the warehouse holds now, before the champion scores the month.
            # Asked of the run's selection, not its job's name: a run of part of monthly_pipeline
            # (the schedule's, or one launched in the UI, even one with the model but not its
            # training set) did not train the month's model from the rows it now holds.
            problem = trained_ahead_problem(context.instance, connection, month)
            if problem:
                raise dg.Failure(problem, allow_retries=False)
        champion = champion_as_of(connection, month)
        if champion is None:
            raise dg.Failure(
                f"no champion model for {month:%Y-%m} in scoring.model_registry: materialise credit_default_model first"
            )
        return champion[0]

    with connect(paths.warehouse, read_only=True) as connection:
        version = scoring_model(connection)
    model_text, card = load_model_text(paths.models, version)
    protected_features = excluded_features(card.feature_names, protected_attributes())
    if protected_features:
        raise dg.Failure(
            f"{card.version} reads features of protected attributes "
            f"({', '.join(protected_features[:5])}): it may not score",
            allow_retries=False,
        )

    def still_allowed(connection: duckdb.DuckDBPyConnection) -> None:
        # Asked again with the warehouse's lock held until the scores are written: a model registered,
        # or (for a model trained ahead) a delivery loaded, since it was first asked changes the answer.
        if scoring_model(connection) != version:
            raise dg.Failure(f"the champion for {month:%Y-%m} changed from {version} while this step began")

    engine = warehouse.warehouse_engine()
    with not_retried(ValueError):
        engine.score_month(month, model_text, card, policy, config.reason_count, gate=still_allowed)
    # The online service decides with the policy the latest month was scored with.
    write_decision_policy(paths.serving, month, policy.review_from, policy.decline_from, config.reason_count)
    with engine.month_results(month, (PREDICTIONS, LABELS_KNOWN_TODAY)) as results:
        scored = results.execute(MONTH_SCORES_SQL, [month]).df()
    labelled = scored[LABEL_COLUMN].notna().to_numpy()
    out_of_time_auc = auc(scored.loc[labelled, LABEL_COLUMN], scored.loc[labelled, "default_probability"].to_numpy())
    metadata = {
        "rows": dg.MetadataValue.int(len(scored)),
        "mean_probability": dg.MetadataValue.float(round(float(scored["default_probability"].mean()), 5)),
        "decline_rate": dg.MetadataValue.float(round(float((scored["decision"] == "decline").mean()), 5)),
        "review_rate": dg.MetadataValue.float(round(float((scored["decision"] == "review").mean()), 5)),
        "model_version": dg.MetadataValue.text(card.version),
        # False when the month's model was trained ahead; true when this run trained (or reused) it first.
        "model_step_in_this_run": dg.MetadataValue.bool(model_step_in_this_run),
        "top_reasons": dg.MetadataValue.md(
            "\n".join(
                f"- {reason}: {count:,}" for reason, count in scored["reason_code_1"].value_counts().head(5).items()
            )
        ),
        "labelled_rows": dg.MetadataValue.int(int(labelled.sum())),
    }
    if not math.isnan(out_of_time_auc):
        metadata["out_of_time_auc"] = dg.MetadataValue.float(round(out_of_time_auc, 5))
    return dg.MaterializeResult(metadata=metadata)
