"""A run's log as Python logging, for whoever runs a job in its own process (the command line).

A run whose config names the `python_logging` logger hands every record of its log, with
the Dagster event it reports, to the Python logger `credit.run`. The caller attaches its
handlers there (a log file, a line per step) instead of reading Dagster's console output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dagster as dg

from assets.run_notifications import step_error

RUN_LOGGER = "credit.run"
# Where Dagster puts its metadata on a record (run, step, event); its JSON console logger reads the same.
DAGSTER_META = "dagster_meta"


@dg.logger(
    config_schema={
        "log_level": dg.Field(
            str, is_required=False, default_value="DEBUG", description="The lowest level handed on; DEBUG: every event."
        )
    },
    description="Hands the run's log to the Python logger `credit.run`, for the handlers of the process running it.",
)
def python_logging(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger(RUN_LOGGER)
    logger.setLevel(init_context.logger_config["log_level"])
    return logger


# The loggers a run may name in its config; a run that names none logs to the console, as by default.
RUN_LOGGERS = {"console": dg.colored_console_logger, "python_logging": python_logging}
PYTHON_LOGGING = {"loggers": {"python_logging": {"config": {"log_level": "DEBUG"}}}}


@dataclass(frozen=True)
class RunLogEntry:
    """What a display needs of one record of the run's log."""

    step: str | None
    event: dg.DagsterEventType | None  # None for a message the step logged
    message: str  # as the step logged it, without Dagster's run and step prefix
    error: str | None  # the first line of a failed step's error


def run_log_entry(record: logging.LogRecord) -> RunLogEntry | None:
    """The step, event and message of a record `python_logging` handed on; None for any other record."""
    meta = getattr(record, DAGSTER_META, None)
    if record.name != RUN_LOGGER or not meta:
        return None
    event = meta.get("dagster_event")
    failed = event is not None and (event.is_step_failure or event.is_step_up_for_retry)
    error = step_error(event) if failed else None
    return RunLogEntry(
        step=meta.get("step_key"),
        event=event.event_type if event else None,
        message=meta.get("orig_message", ""),
        error=error.splitlines()[0] if error else None,
    )


def captured_by_dagster(record: logging.LogRecord) -> bool:
    """A Python logging record that Dagster also put in the run's log (dagster-dbt logs through `get_dagster_logger`).

    Dagster marks such a record and lets it propagate, so a handler above both sees it twice:
    once from the run's loggers, once itself. This is the second copy.
    """
    return hasattr(record, DAGSTER_META) and record.name != RUN_LOGGER
