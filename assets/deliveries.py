"""The load step: what a month's run needs from the inbox, checked and loaded into `raw`.

One step writes two assets, the two tables dbt reads: `raw_applications` (the history
and the month's file) and `raw_outcomes` (outcome files dated the month or earlier).
Each carries a data version made of the sha256 of the files behind it, so replacing a
file marks everything built from it stale in Dagster until it is materialised again.
"""

from collections.abc import Iterator

import dagster as dg

from assets.partitions import month_by_month, monthly_partitions, partition_month
from assets.resources import WarehouseResource
from warehouse.database import connect
from warehouse.deliveries import DeliveryNameError, month_file_name
from warehouse.inbox import load_month_from_inbox
from warehouse.ledger import inputs_version, month_inputs
from warehouse.loader import DeliveryError, DeliveryRejected

RAW_APPLICATIONS = dg.AssetKey("raw_applications")
RAW_OUTCOMES = dg.AssetKey("raw_outcomes")
# The sha256 of the month's own file, as the load step read it: the inbox sensor compares it.
MONTH_FILE_SHA256 = "month_file_sha256"

# Everything built for month M declares M's deliveries as a direct dependency, because
# Dagster's staleness looks one edge up: replacing a delivery then marks M's features,
# training set, model and predictions stale at once, not one level per re-run.
MONTH_DELIVERIES = (RAW_APPLICATIONS, RAW_OUTCOMES)


def _files_markdown(inputs: list[tuple[str, str]]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- `{name}` sha256 `{sha[:12]}`" for name, sha in inputs) or "none")


@dg.multi_asset(
    name="raw_deliveries",
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    group_name="deliveries",
    pool="warehouse",
    specs=[
        dg.AssetSpec(
            RAW_APPLICATIONS,
            description="Applications of the month and the history file, checked against the raw-file contract and loaded into raw.applications.",
            kinds={"duckdb", "csv"},
        ),
        dg.AssetSpec(
            RAW_OUTCOMES,
            description="Outcome files dated the month or earlier (outcomes_YYYYMM01.csv), checked and loaded into raw.outcomes.",
            kinds={"duckdb", "csv"},
        ),
    ],
)
def raw_deliveries(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    month = partition_month(context.partition_key)
    paths = warehouse.paths
    try:
        results = load_month_from_inbox(paths, month, progress=context.log.info)
    except DeliveryRejected as rejected:
        # A bad delivery is the operator's to fix: show what is wrong and where the report is, not a traceback.
        raise dg.Failure(
            description=f"{rejected.report.file_name} was rejected and moved to quarantine",
            metadata={
                "problems": dg.MetadataValue.md(f"```\n{rejected.report.summary()}\n```"),
                "report": dg.MetadataValue.path(str(rejected.report_path)),
                "quarantined_file": dg.MetadataValue.path(str(rejected.quarantined_file)),
            },
            allow_retries=False,  # the same file fails the same way: retrying cannot help
        ) from rejected
    except (DeliveryError, DeliveryNameError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    for result in results:
        context.log.info(result.describe())
        for warning in result.warnings:
            context.log.warning(f"{result.delivery.file_name}: {warning}")
    with connect(paths.warehouse) as connection:
        rows, labelled = connection.execute(
            "select count(*), count(target) from raw.applications where application_month = ?", [month]
        ).fetchone()
        outcomes_known = connection.execute(
            "select count(*) from raw.outcomes where known_from <= ?", [month]
        ).fetchone()[0]
        application_files = month_inputs(connection, month, outcomes=False)
        outcome_files = month_inputs(connection, month, outcomes=True)
    month_file_sha256 = dict(application_files).get(month_file_name(month), "")
    loads = dg.MetadataValue.md("\n".join(f"- {r.describe()}" for r in results) or "nothing new to load")
    yield dg.MaterializeResult(
        asset_key=RAW_APPLICATIONS,
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "labelled_rows": dg.MetadataValue.int(labelled),
            "files": _files_markdown(application_files),
            MONTH_FILE_SHA256: dg.MetadataValue.text(month_file_sha256),
            "loads": loads,
            "warnings": dg.MetadataValue.int(sum(len(r.warnings) for r in results)),
        },
        data_version=dg.DataVersion(inputs_version(application_files)),
    )
    yield dg.MaterializeResult(
        asset_key=RAW_OUTCOMES,
        metadata={
            "outcomes_known": dg.MetadataValue.int(outcomes_known),
            "files": _files_markdown(outcome_files),
        },
        data_version=dg.DataVersion(inputs_version(outcome_files)),
    )
