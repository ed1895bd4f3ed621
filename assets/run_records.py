"""Where each month stands in Dagster: published, stale (a delivery changed since), failed, or never run.

Reads the instance's records only, without the asset definitions, so `credit status` stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from assets.asset_keys import MONTHLY_OUTBOX, RAW_APPLICATIONS, RAW_OUTCOMES
from assets.dagster_instance import dagster_instance
from assets.run_notifications import PARTITION_TAG
from warehouse.ingestion.delivery_names import parse_month
from warehouse.paths import DataPaths

# A month whose latest run is in one of these is "running", whatever it was before.
RUNNING_STATUSES = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


@dataclass(frozen=True)
class MonthState:
    month: str  # YYYY-MM
    state: str  # published, stale, failed, running or not run
    run_id: str | None


def _latest_by_partition(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, int]:
    return dict(instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION))


def month_states(paths: DataPaths) -> list[MonthState]:
    """One state per month Dagster knows of: a run, a load or a published outbox."""
    with dagster_instance(paths) as instance:
        published = _latest_by_partition(instance, MONTHLY_OUTBOX)  # its scores are out
        # A delivery recorded after the month was published (`credit load` of a correction) makes it stale.
        delivered = {}
        for key in (RAW_APPLICATIONS, RAW_OUTCOMES):
            for partition, storage_id in _latest_by_partition(instance, key).items():
                delivered[partition] = max(storage_id, delivered.get(partition, 0))
        runs = {}
        for run in instance.get_runs():  # newest first
            partition = run.tags.get(PARTITION_TAG)
            if partition and partition not in runs:
                runs[partition] = run
    states = []
    for partition in sorted(set(published) | set(delivered) | set(runs)):
        run = runs.get(partition)
        if run and run.status in RUNNING_STATUSES:
            state = "running"
        elif partition in published:
            state = "stale" if delivered.get(partition, 0) > published[partition] else "published"
        elif run and run.status == dg.DagsterRunStatus.FAILURE:
            state = "failed"
        else:
            state = "not run"
        states.append(MonthState(f"{parse_month(partition):%Y-%m}", state, run.run_id if run else None))
    return states
