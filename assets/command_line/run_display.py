"""What `credit run` and `credit demo` show of a month's run, and where its full log goes.

Dagster hands the run's log to the Python logger `credit.run` (assets/run_log.py). While the
run lasts, that log, whatever libraries log and whatever they print (dbt's output among it)
go to a file under the data directory; the terminal gets one line per step as it starts and
ends (how long it took and, on Linux, its peak memory), or, with --verbose, the full log as well.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import dagster as dg

from assets.command_line import process_memory
from assets.month_runs import MonthRun
from assets.run_log import RUN_LOGGER, captured_by_dagster, run_log_entry
from warehouse.paths import DataPaths

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s - %(message)s"
PRINTED = f"{RUN_LOGGER}.stdout"  # what the run printed, line by line
PRINTED_TO_STDERR = f"{RUN_LOGGER}.stderr"
# dbt prints "12 of 81 PASS not_null_..." as each of its models and tests ends ("12 of 81 START ..." as it begins).
DBT_NODE_DONE = re.compile(r"^\d+ of (\d+) (?!START)")
TUNING_TRIAL = re.compile(r"^tuning trial (\d+)/(\d+)")  # the model step's progress (ml/training.py)
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
CLEAR_TO_END = "\x1b[K"
STEP_WIDTH = 24  # the longest asset step, credit_dbt_monitoring, and a progress bar fit in 80 columns
BAR_WIDTH = 12
ERROR_WIDTH = 160

STEP_STARTS = (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_RESTARTED)
STEP_ENDS = {
    dg.DagsterEventType.STEP_SUCCESS: "done in",
    dg.DagsterEventType.STEP_FAILURE: "failed after",
    dg.DagsterEventType.STEP_UP_FOR_RETRY: "failed (to be retried) after",
}


def run_log_path(paths: DataPaths, month: date, kind: str = "run") -> Path:
    return paths.logs / f"{kind}-{month:%Y-%m}-{datetime.now():%Y%m%dT%H%M%S}.log"


class StepLines(logging.Handler):
    """One line per step: its start time, then how it ended and how long it took.

    On a terminal the line shows the step's progress while it runs (dbt's models and tests
    done, the tuning trials) and is rewritten in place; in a pipe or a file it is written in
    two parts, the start and then the end.
    """

    def __init__(self, stream: TextIO):
        super().__init__()
        self.stream = stream
        self.in_place = stream.isatty()
        self.step: str | None = None  # the step whose line is open
        self.line = ""
        self.started = 0.0
        self.dbt_nodes_done = 0
        self.peak_reset = False

    def emit(self, record: logging.LogRecord) -> None:
        entry = run_log_entry(record)
        if entry is None:
            if record.name == PRINTED and (match := DBT_NODE_DONE.match(record.getMessage())):
                self.dbt_nodes_done += 1
                self._progress(self.dbt_nodes_done, int(match[1]), "dbt models and tests")
        elif entry.event in STEP_STARTS:
            self._open(entry.step, record.created)
        elif entry.event in STEP_ENDS and entry.step == self.step:
            outcome = f"{STEP_ENDS[entry.event]} {record.created - self.started:.0f} s"
            peak = process_memory.peak_bytes() if self.peak_reset else None
            outcome += f", peak memory {process_memory.describe(peak)}" if peak else ""
            self.end_line(f"{outcome}: {entry.error[:ERROR_WIDTH]}" if entry.error else outcome)
        elif entry.step == self.step and (match := TUNING_TRIAL.match(entry.message)):
            self._progress(int(match[1]), int(match[2]), "tuning trials")

    def _open(self, step: str, at: float) -> None:
        self.end_line("")
        self.step, self.started, self.dbt_nodes_done = step, at, 0
        # The steps of a run share this process: each one's peak counts from its start.
        self.peak_reset = process_memory.reset_peak()
        self.line = f"{datetime.fromtimestamp(at):%H:%M:%S}  {step:<{STEP_WIDTH}}"
        self._write(self.line)

    def _progress(self, done: int, total: int, what: str) -> None:
        if self.step is None or not self.in_place or total <= 0:
            return
        filled = BAR_WIDTH * min(done, total) // total
        shown = f"{self.line} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {what}"
        # A line longer than the terminal wraps, and the next rewrite would start on its second half.
        self._write(f"\r{shown[: shutil.get_terminal_size().columns - 1]}{CLEAR_TO_END}")

    def note(self, text: str) -> None:
        """A line the operator must see at once (the run waits for the warehouse lock), under the open step's."""
        if self.step is not None:
            self._write("\n")
        self._write(f"  {text}\n")
        if self.step is not None:
            self._write(self.line)

    def end_line(self, outcome: str) -> None:
        """Ends the open line, if any, with how its step ended."""
        if self.step is None:
            return
        self._write(f"\r{self.line} {outcome}{CLEAR_TO_END}\n" if self.in_place else f" {outcome}\n")
        self.step = None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class LineLog(io.TextIOBase):
    """A text stream that logs each line written to it: what a library prints lands in the run's log."""

    encoding = "utf-8"  # what printing libraries ask of a stream

    def __init__(self, logger_name: str, level: int):
        self.logger = logging.getLogger(logger_name)
        self.logger.setLevel(level)
        self.level = level
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self._log(line)
        return len(text)

    def close(self) -> None:
        self._log(self.pending)
        self.pending = ""
        super().close()

    def _log(self, line: str) -> None:
        line = ANSI_COLOUR.sub("", line).rstrip()
        if line:
            self.logger.log(self.level, line)


def _one_copy(record: logging.LogRecord) -> bool:
    # Dagster copies what dagster-dbt logs into the run's log, then lets it propagate as well.
    return not captured_by_dagster(record)


def _log_handler(handler: logging.Handler, level: int = logging.NOTSET) -> logging.Handler:
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    handler.addFilter(_one_copy)
    return handler


@contextmanager
def _root_logging_to(handlers: list[logging.Handler]) -> Iterator[None]:
    """The root logger, Python's warnings included, writes to `handlers` only.

    So a library's warning goes where the run's log goes, not between the step lines.
    """
    root = logging.getLogger()
    handlers_before = root.handlers[:]
    root.handlers = handlers
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers = handlers_before


@contextmanager
def _printed_into_log() -> Iterator[None]:
    """What is printed meanwhile is logged line by line instead (dbt's output comes this way)."""
    with LineLog(PRINTED, logging.INFO) as printed, LineLog(PRINTED_TO_STDERR, logging.WARNING) as printed_to_stderr:
        with redirect_stdout(printed), redirect_stderr(printed_to_stderr):
            yield


class WarehouseWarnings(logging.Handler):
    """The warehouse's own warnings (waiting for another process's lock) as notes between the step lines."""

    def __init__(self, step_lines: StepLines):
        super().__init__(logging.WARNING)
        self.step_lines = step_lines
        self.addFilter(lambda record: record.name.split(".")[0] == "warehouse")

    def emit(self, record: logging.LogRecord) -> None:
        self.step_lines.note(record.getMessage())


@contextmanager
def _step_lines(terminal: TextIO) -> Iterator[None]:
    step_lines = StepLines(terminal)
    warehouse_warnings = WarehouseWarnings(step_lines)
    run_log, root = logging.getLogger(RUN_LOGGER), logging.getLogger()
    run_log.addHandler(step_lines)
    root.addHandler(warehouse_warnings)
    try:
        yield
    finally:
        root.removeHandler(warehouse_warnings)
        run_log.removeHandler(step_lines)
        step_lines.end_line("interrupted")  # only if a step is still open


@contextmanager
def run_output(log_path: Path, verbose: bool) -> Iterator[None]:
    """While the run lasts, its full log goes to `log_path`; the terminal gets a line per step, or all of it too."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    to_file = _log_handler(logging.FileHandler(log_path, encoding="utf-8"))
    try:
        if verbose:
            to_terminal = _log_handler(logging.StreamHandler(sys.stderr), logging.INFO)
            with _root_logging_to([to_file, to_terminal]), _printed_into_log():
                yield
        else:
            # The step lines go to stdout as it is before what is printed goes to the log.
            with _root_logging_to([to_file]), _step_lines(sys.stdout), _printed_into_log():
                yield
    finally:
        to_file.close()


def print_result(run: MonthRun, label: str, seconds: float, log_path: Path) -> None:
    """The run's notification (the failing step and its error, or the checks that warned) and how it ended."""
    notification = run.notification
    output = sys.stdout if run.success else sys.stderr
    print(notification["text"], file=output)
    for step in notification["details"].get("failed_steps", []):
        print(f"  {step['step']}: {step['error']}", file=output)
    for warning in notification["details"].get("check_warnings", []):
        print(f"  warning: {warning}", file=output)
    ended = "succeeded" if run.success else "failed"
    print(f"{label}: {ended} in {seconds:.0f} s; the full log is in {log_path}", file=output)
