"""Data versions of the raw deliveries, recorded in Dagster by runs and by `credit load` alike.

A run records the raw assets with a data version made of the sha256 of their files. When
`credit load` replaces a file between runs, this records a materialisation of each
affected raw partition with the new version, so Dagster shows the features, model and
predictions built from the old file as stale until the month is materialised again.
Month M's applications version covers every month file dated M or earlier, so a
correction of an earlier month marks every later month stale as well.

Apart from the load asset, so that `credit load` records versions without building the assets.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from assets.asset_keys import RAW_APPLICATIONS, RAW_OUTCOMES
from assets.dagster_instance import dagster_instance
from assets.partitions import partition_month
from warehouse.database import connect
from warehouse.ingestion.ledger import inputs_version, month_inputs
from warehouse.paths import DataPaths

# Dagster's tags for an asset's data version (its constants are not exported).
DATA_VERSION_TAG = "dagster/data_version"
USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"


def files_markdown(inputs: list[tuple[str, str]]) -> dg.MetadataValue:
    """The files behind a data version, with the start of their sha256, as asset metadata."""
    return dg.MetadataValue.md("\n".join(f"- `{name}` sha256 `{sha[:12]}`" for name, sha in inputs) or "none")


def recorded_data_version(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> str | None:
    """The data version of the latest materialisation Dagster holds for this partition, if any."""
    latest = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
    result = instance.fetch_materializations(latest, limit=1)
    if not result.records:
        return None
    return result.records[0].asset_materialization.tags.get(DATA_VERSION_TAG)


def record_new_data_versions(
    instance: dg.DagsterInstance,
    connection: duckdb.DuckDBPyConnection,
    description: str,
    skip_partition: str | None = None,
) -> list[str]:
    """Record a new data version for each materialised raw partition whose files changed; returns what was recorded.

    Reads the ledger through `connection` and writes runless materialisations to `instance`,
    so Dagster shows what was built from the old files stale until its month runs again.
    `skip_partition` is left alone: a run materialises its own partition itself.
    """
    recorded = []
    for key, outcomes in ((RAW_APPLICATIONS, False), (RAW_OUTCOMES, True)):
        for partition in sorted(instance.get_materialized_partitions(key)):
            if partition == skip_partition:
                continue
            inputs = month_inputs(connection, partition_month(partition), outcomes)
            version = inputs_version(inputs)
            if version == recorded_data_version(instance, key, partition):
                continue
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=key,
                    partition=partition,
                    description=description,
                    metadata={"files": files_markdown(inputs)},
                    tags={DATA_VERSION_TAG: version, USER_PROVIDED_TAG: "true"},
                )
            )
            recorded.append(f"{key.to_user_string()} {partition}")
    return recorded


def record_loads_outside_runs(paths: DataPaths) -> list[str]:
    """Record new data versions of materialised raw partitions whose files changed; returns what was recorded."""
    if not (paths.dagster_home / "dagster.yaml").exists() or not paths.warehouse.exists():
        return []  # Dagster has never run on this data directory: nothing can be stale
    with dagster_instance(paths) as instance, connect(paths.warehouse, read_only=True) as connection:
        return record_new_data_versions(instance, connection, "delivery loaded outside a run (credit load)")
