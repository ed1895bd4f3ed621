"""The load asset: a month's delivery from the inbox into `raw.applications`."""

import dagster as dg

from assets.partitions import monthly_partitions, partition_month
from assets.resources import WarehouseResource
from warehouse.database import connect
from warehouse.deliveries import DeliveryNameError
from warehouse.inbox import load_month_from_inbox
from warehouse.loader import DeliveryError


@dg.asset(
    partitions_def=monthly_partitions,
    group_name="deliveries",
    kinds={"duckdb", "csv"},
    pool="warehouse",
)
def raw_applications(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Applications of the month (and the history file) loaded from the inbox into raw.applications."""
    month = partition_month(context.partition_key)
    paths = warehouse.paths
    try:
        results = load_month_from_inbox(paths, month)
    except (DeliveryError, DeliveryNameError) as error:
        # A bad or missing delivery is the operator's to fix: show the reason, not a traceback.
        raise dg.Failure(description=str(error)) from error
    for result in results:
        context.log.info(result.describe())
    with connect(paths.warehouse) as connection:
        rows, labelled = connection.execute(
            "select count(*), count(target) from raw.applications where application_month = ?", [month]
        ).fetchone()
        sha256 = connection.execute(
            "select sha256 from raw.load_ledger where application_month = ? order by loaded_at desc limit 1",
            [month],
        ).fetchone()
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "labelled_rows": dg.MetadataValue.int(labelled),
            "sha256": dg.MetadataValue.text(sha256[0] if sha256 else ""),
            "loads": dg.MetadataValue.md("\n".join(f"- {r.describe()}" for r in results) or "nothing new to load"),
        }
    )
