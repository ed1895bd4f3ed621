"""The load step: what a month's run needs from the inbox, checked and loaded into `raw`.

One step writes two assets, the two tables dbt reads: `raw_applications` (the history
and the month's file) and `raw_outcomes` (outcome files dated the month or earlier).
Each carries a data version made of the sha256 of the files behind it, so replacing a
file marks everything built from it stale in Dagster until it is materialised again.
Month M's applications version covers the history and every month file dated M or
earlier (M's training set reads them all): loading or replacing an earlier month changes
the version of every later month, and the step records those new versions at once.

The step refuses a month whose earlier months are not loaded yet, before loading anything.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from assets.asset_keys import RAW_APPLICATIONS, RAW_OUTCOMES
from assets.partitions import month_by_month, monthly_partitions, partition_month
from assets.resources import WarehouseResource
from assets.staleness import files_markdown, record_new_data_versions
from warehouse.database import connect
from warehouse.engine_setting import engine_name
from warehouse.ingestion.delivery_names import DeliveryNameError, month_file_name
from warehouse.ingestion.inbox import load_month_from_inbox
from warehouse.ingestion.ledger import inputs_version, month_inputs, months_before, months_missing_before
from warehouse.ingestion.loader import DeliveryError, DeliveryRejected
from warehouse.online.decision_log import load_decision_logs
from warehouse.paths import DataPaths

# The sha256 of the month's own file, as the load step read it: the inbox sensor compares it.
MONTH_FILE_SHA256 = "month_file_sha256"

# Everything built for month M declares M's deliveries as a direct dependency, because
# Dagster's staleness looks one edge up: replacing a delivery then marks M's features,
# training set, model and predictions stale at once, not one level per re-run.
MONTH_DELIVERIES = (RAW_APPLICATIONS, RAW_OUTCOMES)

# LoadResult statuses that change what the warehouse holds.
CHANGED = ("loaded", "replaced")


def missing_months_message(paths: DataPaths, month: date, missing: list[date]) -> str:
    """Names every missing month and whether its file waits in the inbox."""
    parts = []
    for earlier in missing:
        name = month_file_name(earlier)
        if (paths.inbox / name).is_file():
            parts.append(f"{earlier:%Y-%m} ({name} is waiting in the inbox: run {earlier:%Y-%m} first)")
        else:
            parts.append(
                f"{earlier:%Y-%m} ({name} was never loaded and is not in the inbox: "
                f"deliver it, then run {earlier:%Y-%m})"
            )
    return (
        f"{month:%Y-%m} trains on every month before it, and the warehouse lacks "
        f"{len(missing)} of them: {'; '.join(parts)}. Nothing was loaded."
    )


def refuse_when_earlier_months_missing(paths: DataPaths, month: date) -> None:
    """Fail at once, without retries, when a month before `month` is not loaded yet (one read-only look)."""
    if not months_before(month):
        return
    if paths.warehouse.exists():
        with connect(paths.warehouse, read_only=True) as connection:
            missing = months_missing_before(connection, month)
    else:
        missing = months_before(month)  # nothing was ever loaded
    if missing:
        raise dg.Failure(
            description=missing_months_message(paths, month, missing),
            metadata={"missing_months": dg.MetadataValue.text(", ".join(f"{m:%Y-%m}" for m in missing))},
            allow_retries=False,  # the same months are missing on a retry: run them first
        )


@dg.multi_asset(
    name="raw_deliveries",
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    group_name="deliveries",
    pool="warehouse",
    specs=[
        dg.AssetSpec(
            RAW_APPLICATIONS,
            description=(
                "Applications of the month and the history file, "
                "checked against the raw-file contract and loaded into raw.applications."
            ),
            kinds={engine_name(), "csv"},
        ),
        dg.AssetSpec(
            RAW_OUTCOMES,
            description=(
                "Outcome files dated the month or earlier (outcomes_YYYYMM01.csv), "
                "checked and loaded into raw.outcomes."
            ),
            kinds={engine_name(), "csv"},
        ),
    ],
)
def raw_deliveries(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    month = partition_month(context.partition_key)
    paths = warehouse.paths
    refuse_when_earlier_months_missing(paths, month)
    engine = warehouse.warehouse_engine()
    try:
        results = load_month_from_inbox(
            paths,
            month,
            progress=context.log.info,
            load=lambda path, say: engine.load_delivery(path, say, skip_superseded=True),
        )
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
    rows, labelled, outcomes_known = engine.delivered(month)
    with connect(paths.warehouse) as connection:
        # The online service's decisions so far (files it fsynced), for audit beside the batch's.
        online_decisions = load_decision_logs(connection, paths.decisions)
        application_files = month_inputs(connection, month, outcomes=False)
        outcome_files = month_inputs(connection, month, outcomes=True)
        if any(result.status in CHANGED for result in results):
            # What this run loaded is read by later months too: record their new versions now.
            later = record_new_data_versions(
                context.instance,
                connection,
                f"delivery loaded by the run of {month:%Y-%m} ({context.run.run_id[:8]})",
                skip_partition=context.partition_key,
            )
            for recorded in later:
                context.log.warning(f"{recorded} has new data: what was built from it is stale until re-materialised")
    month_file_sha256 = dict(application_files).get(month_file_name(month), "")
    loads = dg.MetadataValue.md("\n".join(f"- {r.describe()}" for r in results) or "nothing new to load")
    yield dg.MaterializeResult(
        asset_key=RAW_APPLICATIONS,
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "labelled_rows": dg.MetadataValue.int(labelled),
            "files": files_markdown(application_files),
            MONTH_FILE_SHA256: dg.MetadataValue.text(month_file_sha256),
            "loads": loads,
            "warnings": dg.MetadataValue.int(sum(len(r.warnings) for r in results)),
            "online_decisions": dg.MetadataValue.int(online_decisions),
        },
        data_version=dg.DataVersion(inputs_version(application_files)),
    )
    yield dg.MaterializeResult(
        asset_key=RAW_OUTCOMES,
        metadata={
            "outcomes_known": dg.MetadataValue.int(outcomes_known),
            "files": files_markdown(outcome_files),
        },
        data_version=dg.DataVersion(inputs_version(outcome_files)),
    )
