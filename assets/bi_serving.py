"""The month's BI copy: Parquet per month and a serving DuckDB of views, so BI never opens the warehouse."""

import dagster as dg

from assets.dbt_models import (
    DRIFT,
    FAIRNESS,
    MONITORING_WARNINGS,
    PERFORMANCE,
    PERFORMANCE_BY_GRADE,
    UNSEEN_LEVELS,
)
from assets.model_training import credit_default_model
from assets.monthly_predictions import monthly_predictions
from assets.partitions import month_by_month, monthly_partitions, partition_month
from assets.raw_deliveries import MONTH_DELIVERIES
from assets.resources import WarehouseResource
from warehouse.publishing.bi_copy import SERVING_DATABASE


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    deps=[
        monthly_predictions,
        credit_default_model,
        DRIFT,
        FAIRNESS,
        PERFORMANCE,
        PERFORMANCE_BY_GRADE,
        UNSEEN_LEVELS,
        MONITORING_WARNINGS,
        *MONTH_DELIVERIES,
    ],
    group_name="publish",
    kinds={"parquet", "duckdb"},
    pool="warehouse",
)
def bi_serving(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Predictions, drift, fairness, new values, performance and the model registry as Parquet per month, for BI tools.

    Also serving/credit_bi.duckdb (views over them); every file replaced whole.
    """
    month = partition_month(context.partition_key)
    root = warehouse.paths.serving
    engine = warehouse.warehouse_engine()
    published = engine.publish_bi_copy(month, root)
    # The month's HTML report, for the delivery page's readers as much as for BI's.
    from ml.reports.month_report import write_month_report  # matplotlib loads here, not with the definitions

    try:
        with engine.month_results(month) as connection:
            report = write_month_report(connection, month, warehouse.paths.models, warehouse.paths.reports)
    except Exception as error:  # the copy BI reads is out; a report that cannot be drawn is a warning
        context.log.warning(f"the month's HTML report could not be drawn ({error!r}); `credit report` retries it")
        report = None
    context.log.info(f"published for BI: {', '.join(f'{name} {rows:,}' for name, rows in published.items())} rows")
    return dg.MaterializeResult(
        metadata={
            **{f"{name}_rows": dg.MetadataValue.int(rows) for name, rows in published.items()},
            "serving_database": dg.MetadataValue.path(str(root / SERVING_DATABASE)),
            **({"month_report": dg.MetadataValue.path(str(report))} if report else {}),
        }
    )
