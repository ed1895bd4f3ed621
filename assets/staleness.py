"""Deliveries loaded outside a run (`credit load`) are recorded in Dagster too.

A run records the raw assets with a data version made of the sha256 of their files. When
`credit load` replaces a file between runs, this records a materialisation of each
affected raw partition with the new version, so Dagster shows the features, model and
predictions built from the old file as stale until the month is materialised again.
"""

from __future__ import annotations

import dagster as dg

from assets.deliveries import RAW_APPLICATIONS, RAW_OUTCOMES
from assets.partitions import partition_month
from assets.runner import dagster_instance
from warehouse.database import connect
from warehouse.ledger import inputs_version, month_inputs
from warehouse.paths import DataPaths

# Dagster's tag for an asset's data version (its constant is not exported).
DATA_VERSION_TAG = "dagster/data_version"
USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"


def _recorded_version(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> str | None:
    result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    if not result.records:
        return None
    return result.records[0].asset_materialization.tags.get(DATA_VERSION_TAG)


def record_loads_outside_runs(paths: DataPaths) -> list[str]:
    """Record new data versions of materialised raw partitions whose files changed; returns what was recorded."""
    if not (paths.dagster_home / "dagster.yaml").exists() or not paths.warehouse.exists():
        return []  # Dagster has never run on this data directory: nothing can be stale
    recorded = []
    with dagster_instance(paths) as instance, connect(paths.warehouse, read_only=True) as connection:
        for key, outcomes in ((RAW_APPLICATIONS, False), (RAW_OUTCOMES, True)):
            for partition in sorted(instance.get_materialized_partitions(key)):
                inputs = month_inputs(connection, partition_month(partition), outcomes)
                version = inputs_version(inputs)
                if version == _recorded_version(instance, key, partition):
                    continue
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(
                        asset_key=key,
                        partition=partition,
                        description="delivery loaded outside a run (credit load)",
                        metadata={"files": dg.MetadataValue.md("\n".join(f"- `{n}` sha256 `{s[:12]}`" for n, s in inputs))},
                        tags={DATA_VERSION_TAG: version, USER_PROVIDED_TAG: "true"},
                    )
                )
                recorded.append(f"{key.to_user_string()} {partition}")
    return recorded
