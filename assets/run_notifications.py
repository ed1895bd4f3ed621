"""What a finished run tells people: the month, the run, the failing step and its error, and check warnings."""

from __future__ import annotations

import dagster as dg

from assets.record_names import PARTITION_TAG, TRAIN_AHEAD
from warehouse.ingestion.delivery_names import month_file_name, parse_month
from warehouse.paths import DataPaths
from warehouse.publishing.notifications import RUN_FAILED, RUN_SUCCEEDED, Notification, notify, webhook_url_from_env
from warehouse.publishing.outbox_csv import outbox_file_name

MAX_ERROR_CHARACTERS = 2_000
# dagster-dbt's failure message: the whole dbt command, then this header and dbt's own errors.
DBT_ERRORS_HEADER = "Errors parsed from dbt logs:"


def _month(run: dg.DagsterRun) -> str | None:
    key = run.tags.get(PARTITION_TAG)
    return f"{parse_month(key):%Y-%m}" if key else None


def step_error(event: dg.DagsterEvent) -> str | None:
    """A failed (or retried) step's error: a `dg.Failure`'s description, else the exception's message."""
    data = event.event_specific_data
    failure = getattr(data, "user_failure_data", None)
    error = getattr(data, "error", None)
    message = (failure.description if failure else None) or (error.message.strip() if error else None)
    return dbt_errors_first(message) if message else None


def dbt_errors_first(message: str) -> str:
    """A failed dbt command's errors before the command itself, so the summary line and the cap keep them."""
    command, header, errors = message.partition(DBT_ERRORS_HEADER)
    if not header or not errors.strip():
        return message
    return f"dbt failed: {errors.strip()}\n\n{command.strip()}"


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """Each failed step of the run with its error."""
    steps = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        error = step_error(event) or "unknown error"
        steps.append({"step": event.step_key, "error": error[:MAX_ERROR_CHARACTERS]})
    return steps


def check_warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Asset checks of the run that did not pass: `asset / check: description`."""
    warnings = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        where = f"{evaluation.asset_key.to_user_string()} / {evaluation.check_name}"
        severity = evaluation.severity.value if evaluation.severity else "ERROR"
        warnings.append(f"{where} ({severity})" + (f": {evaluation.description}" if evaluation.description else ""))
    return warnings


def run_notification(instance: dg.DagsterInstance, run: dg.DagsterRun, paths: DataPaths) -> Notification:
    month = _month(run)
    model_run = run.job_name == TRAIN_AHEAD  # a model trained ahead publishes no scores
    subject = f"credit {month}" + (" model" if model_run else "") if month else f"credit run {run.job_name}"
    warnings = check_warnings(instance, run.run_id)
    details: dict = {"job": run.job_name, "status": run.status.value}
    if warnings:
        details["check_warnings"] = warnings
    if run.status == dg.DagsterRunStatus.SUCCESS:
        if month and not model_run:
            details["outbox_file"] = str(paths.outbox / outbox_file_name(parse_month(month)))
        warned = f", {len(warnings)} check warning{'s' if len(warnings) != 1 else ''}" if warnings else ""
        text = f"{subject}: run {run.run_id[:8]} succeeded{warned}"
        return Notification(RUN_SUCCEEDED, text, month, run.run_id, details)
    steps = failed_steps(instance, run.run_id)
    details["failed_steps"] = steps
    if month and not model_run:
        details["delivery"] = month_file_name(parse_month(month))
    where = f" in step {steps[0]['step']}: {steps[0]['error'].splitlines()[0]}" if steps else ""
    text = f"{subject}: run {run.run_id[:8]} failed{where}"
    return Notification(RUN_FAILED, text, month, run.run_id, details)


def notify_run(instance: dg.DagsterInstance, run_id: str, paths: DataPaths) -> dict:
    run = instance.get_run_by_id(run_id)
    return notify(paths, run_notification(instance, run, paths), webhook_url_from_env())
