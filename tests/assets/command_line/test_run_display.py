"""What the terminal and the log file get of a run: a toy job through the same loggers and handlers as `credit run`."""

import io
import logging
import re
import sys
import warnings

import dagster as dg
import numpy as np

from assets.command_line.run_display import run_output
from assets.run_log import PYTHON_LOGGING, RUN_LOGGERS


@dg.asset
def tuned(context: dg.AssetExecutionContext) -> None:
    for trial in (1, 2):
        context.log.info(f"tuning trial {trial}/2: AUC 0.7")
    print("1 of 2 OK created sql table model marts.example")  # as dbt's output reaches stdout
    logging.getLogger("some.library").warning("a library's warning")
    logging.getLogger("warehouse.database").warning("waiting for the warehouse, which another process is writing")
    warnings.warn("a Python warning", UserWarning, stacklevel=1)
    np.ones(300 * 2**20 // 8).sum()  # 300 MB at once, freed before the step ends: its peak shows it


@dg.asset(deps=[tuned])
def broken() -> None:
    raise dg.Failure(description="the month's file is missing")


JOB = dg.Definitions(
    assets=[tuned, broken], jobs=[dg.define_asset_job("toy", selection=[tuned, broken])], loggers=RUN_LOGGERS
).resolve_job_def("toy")


def _peak_megabytes(line: str) -> float:
    size, unit = re.search(r"peak memory ([0-9.]+) (MB|GB)", line).groups()
    return float(size) * (1024 if unit == "GB" else 1)


def test_the_terminal_gets_a_line_per_step_and_the_file_gets_everything(tmp_path, capsys):
    log_path = tmp_path / "logs" / "run.log"
    with run_output(log_path, verbose=False):
        result = JOB.execute_in_process(run_config=PYTHON_LOGGING, raise_on_error=False)
    assert not result.success

    terminal = capsys.readouterr()
    lines = terminal.out.splitlines()
    assert len(lines) == 4, terminal.out
    # The operator sees at once why a step stands still; a library's warning goes to the log file only.
    assert lines[1] == "  waiting for the warehouse, which another process is writing"
    assert lines[2].split()[1:4] == ["tuned", "done", "in"] and lines[0] in lines[2]
    assert lines[3].split()[1:3] == ["broken", "failed"] and lines[3].endswith("the month's file is missing")
    # Each step's own peak memory: the next step's counts from its start, not the process's.
    tuned_peak, broken_peak = (_peak_megabytes(line) for line in lines[2:4])
    assert tuned_peak - broken_peak > 250, lines
    assert terminal.err == "", "warnings go to the log file"

    log = log_path.read_text(encoding="utf-8")
    for expected in (
        'STEP_START - Started execution of step "tuned"',
        "tuning trial 2/2",
        "credit.run.stdout - 1 of 2 OK created sql table model marts.example",
        "some.library - a library's warning",
        "a Python warning",
        "STEP_FAILURE",
        "RUN_FAILURE",
    ):
        assert expected in log, expected
    assert log.count("a library's warning") == 1


def test_verbose_streams_the_full_log_to_the_terminal_too(tmp_path, capsys):
    log_path = tmp_path / "run.log"
    with run_output(log_path, verbose=True):
        JOB.execute_in_process(run_config=PYTHON_LOGGING, raise_on_error=False)
    terminal = capsys.readouterr()
    assert terminal.out == ""
    assert "tuning trial 2/2" in terminal.err and "1 of 2 OK created sql table model" in terminal.err
    assert "tuning trial 2/2" in log_path.read_text(encoding="utf-8")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_running_step_shows_its_progress_in_place(tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", "80")
    with run_output(tmp_path / "run.log", verbose=False):
        JOB.execute_in_process(run_config=PYTHON_LOGGING, raise_on_error=False)
    tuned_progress, note, tuned_end, broken_line, _ = terminal.getvalue().split("\n")
    started, first_trial, second_trial, dbt_node = tuned_progress.split("\r")
    assert "[######......] 1/2 tuning trials" in first_trial and "[############] 2/2 tuning trials" in second_trial
    assert "1/2 dbt models and tests" in dbt_node
    assert note == "  waiting for the warehouse, which another process is writing"
    reopened, ended = tuned_end.split("\r")
    assert reopened == started and ended.startswith(started.rstrip()) and "done in " in ended
    assert "failed after" in broken_line
