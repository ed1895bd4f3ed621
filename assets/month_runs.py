"""Materialise a month through Dagster in this process, recorded in the data directory's Dagster home."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from assets.carried_model_config import carried_model_config, model_config_of
from assets.dagster_instance import dagster_instance
from assets.definitions import defs
from assets.model_readiness import month_job_name
from assets.partitions import partition_key
from assets.record_names import CREDIT_DEFAULT_MODEL as MODEL_STEP
from assets.record_names import TRAIN_AHEAD
from assets.run_notifications import notify_run
from assets.sensors import CLI_SOURCE_TAG
from warehouse.paths import DataPaths

# Unless the caller names other loggers, the terminal gets Dagster's INFO events; the event log keeps the rest.
CONSOLE_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def data_directory_config(paths: DataPaths) -> dict:
    """Run config pointing the warehouse resource at `paths`: the UI shows it with the run, a re-execution keeps it."""
    return {"resources": {"warehouse": {"config": {"data_dir": str(paths.root)}}}}


def run_month(month: date, paths: DataPaths, run_config: dict | None = None, job_name: str | None = None) -> MonthRun:
    """Load, build features, score, publish and monitor one month in one Dagster run; notifies its result.

    The job is score_month when the month's model was trained ahead, else monthly_pipeline,
    which trains it first; `job_name` overrides the choice.
    """
    if job_name is None:
        with dagster_instance(paths) as instance:
            job_name = month_job_name(instance, paths, month)
    return _execute(job_name, month, paths, run_config)


def train_month_ahead(month: date, paths: DataPaths, run_config: dict | None = None) -> MonthRun:
    """Train, register and gate month M's model from what is published up to M-1; notifies its result."""
    return _execute(TRAIN_AHEAD, month, paths, run_config)


def _execute(job_name: str, month: date, paths: DataPaths, run_config: dict | None) -> MonthRun:
    # The jobs the sensors and the schedule start, so their retry policy holds here too and the UI
    # lists these runs beside theirs; only the data directory is this call's, given in the run config.
    job = defs.resolve_job_def(job_name)
    run_config = _for_job(job, {**CONSOLE_LOGGING, **data_directory_config(paths), **(run_config or {})})
    tags = dict([CLI_SOURCE_TAG])
    with dagster_instance(paths) as instance:
        if job.graph.has_node_named(MODEL_STEP):
            # Trained as the latest model was (its budget and seed), under the caller's own choices.
            carried = carried_model_config(instance, month)
            model = {"config": carried.under(model_config_of(run_config))}
            run_config = {**run_config, "ops": {**run_config.get("ops", {}), MODEL_STEP: model}}
            tags = {**tags, **carried.tags()}
        result = job.execute_in_process(
            partition_key=partition_key(month),
            instance=instance,
            run_config=run_config,
            tags=tags,
            raise_on_error=False,
        )
        # The run-status sensors skip runs tagged as the CLI's, so this is the one notification.
        notification = notify_run(instance, result.run_id, paths)
    return MonthRun(result, notification)


def _for_job(job: dg.JobDefinition, run_config: dict) -> dict:
    """The run config without the model's config when the job trains nothing (score_month).

    Only that: a misspelt step name still reaches Dagster, which rejects it.
    """
    ops = dict(run_config.get("ops", {}))
    if not job.graph.has_node_named(MODEL_STEP):
        ops.pop(MODEL_STEP, None)
    return {**{key: value for key, value in run_config.items() if key != "ops"}, **({"ops": ops} if ops else {})}


@dataclass(frozen=True)
class MonthRun:
    result: dg.ExecuteInProcessResult
    notification: dict  # what was logged (and sent to the webhook): text, failed steps, check warnings

    @property
    def success(self) -> bool:
        return self.result.success
