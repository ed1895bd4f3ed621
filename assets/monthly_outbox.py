"""The month's scores for external systems, as `outbox/pred_YYYYMMDD.csv`."""

import dagster as dg

from assets.asset_keys import MONTHLY_OUTBOX
from assets.jobs import not_retried
from assets.monthly_predictions import monthly_predictions
from assets.partitions import month_by_month, monthly_partitions, partition_month
from assets.raw_deliveries import MONTH_DELIVERIES
from assets.resources import WarehouseResource
from warehouse.month_tables import PREDICTIONS
from warehouse.publishing.outbox_csv import write_outbox


@dg.asset(
    key=MONTHLY_OUTBOX,
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    # The deliveries too, as on every month asset: a replaced file marks this month's CSV stale.
    deps=[monthly_predictions, *MONTH_DELIVERIES],
    group_name="publish",
    kinds={"csv"},
    pool="warehouse",
)
def monthly_outbox(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """SK_ID_CURR, probability, grade, decision, reason codes and model version of every application of the month.

    In outbox/pred_YYYYMMDD.csv, written whole, then renamed into place.
    """
    month = partition_month(context.partition_key)
    with warehouse.warehouse_engine().month_results(month, (PREDICTIONS,)) as results, not_retried(ValueError):
        path, rows = write_outbox(results, month, warehouse.paths.outbox)
    context.log.info(f"published {rows:,} scores of {month:%Y-%m} to {path}")
    return dg.MaterializeResult(metadata={"rows": dg.MetadataValue.int(rows), "path": dg.MetadataValue.path(str(path))})
