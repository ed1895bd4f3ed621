"""SIGKILL a real process mid-load and mid-write: the warehouse shows all of the old or all of the new.

After each kill the warehouse is opened again (DuckDB replays its write-ahead log),
checked for consistency, and the interrupted command is run again to completion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from assets.command_line.main import main
from tests.system.write_predictions import write_predictions
from warehouse.database import connect
from warehouse.ingestion.loader import file_sha256, load_delivery
from warehouse.paths import PROJECT_ROOT, DataPaths
from warehouse.sample_data.generator import generate_applications
from warehouse.sample_data.splitter import write_parts

CRASH_ROWS = 60_000


@pytest.fixture(scope="module")
def big_history(tmp_path_factory) -> tuple[Path, Path]:
    """A history file large enough that its write takes a while, and a shorter first version of it."""
    folder = tmp_path_factory.mktemp("big")
    write_parts(generate_applications(rows=CRASH_ROWS, seed=11), folder)
    full = folder / "initial.csv"
    first = folder / "first_version" / "initial.csv"
    first.parent.mkdir()
    pd.read_csv(full, dtype=str, keep_default_na=False).iloc[:5_000].to_csv(first, index=False)
    return first, full


def start(command: list[str], data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-u", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "CREDIT_DATA_DIR": str(data_dir)},
    )


def kill_after(process: subprocess.Popen, marker: str, delay: float) -> bool:
    """SIGKILL `delay` seconds after `marker` is printed; True if it died by the signal (not finished)."""
    for line in process.stdout:
        if marker in line:
            break
    else:
        raise AssertionError(f"{marker!r} never printed")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return process.returncode == -signal.SIGKILL


def history_state(paths: DataPaths) -> tuple:
    """Rows of the history in the table, and what the ledger says is loaded."""
    with connect(paths.warehouse, read_only=True) as connection:
        rows = connection.execute("select count(*) from raw.applications").fetchone()[0]
        ledger = connection.execute(
            "select sha256, row_count from raw.load_ledger where status <> 'rejected' order by loaded_at"
        ).fetchall()
    return rows, ledger


@pytest.mark.parametrize(
    ("marker", "delay"),
    [("checking", 0.5), ("writing", 0.4), ("writing", 1.2)],
)
def test_a_load_killed_at_any_moment_leaves_the_old_version_whole_and_a_rerun_succeeds(
    big_history, tmp_path, monkeypatch, marker, delay
):
    first, full = big_history
    paths = DataPaths(tmp_path / "data").create()
    old = load_delivery(first, paths)
    old_state = (old.rows, [(old.sha256, old.rows)])
    assert history_state(paths) == old_state

    killed = kill_after(start(["-m", "assets.command_line.main", "load", str(full)], paths.root), marker, delay)

    rows, ledger = history_state(paths)
    new_sha = file_sha256(full)
    if killed and (rows, ledger) == old_state:
        pass  # died before its commit: none of the new version is visible
    else:
        assert ledger[-1][0] == new_sha and rows == ledger[-1][1], "a version is either whole or absent"
    # The operator's rerun: the same command, in this process (only the killed load needs one of its own).
    monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
    assert main(["load", str(full)]) == 0
    rows, ledger = history_state(paths)
    assert ledger[-1][0] == new_sha and rows == ledger[-1][1] > old.rows
    assert not list(paths.quarantine.iterdir()), "a killed load is not a bad file"


def test_a_kill_just_after_writing_starts_is_rolled_back(big_history, tmp_path):
    """The sweep above must include kills inside the transaction; this one is, by construction."""
    first, full = big_history
    paths = DataPaths(tmp_path / "data").create()
    old = load_delivery(first, paths)
    assert kill_after(start(["-m", "assets.command_line.main", "load", str(full)], paths.root), "writing", 0.0)
    assert history_state(paths) == (old.rows, [(old.sha256, old.rows)])


PREDICTION_ROWS = 3_000_000


def predictions_of(paths: DataPaths, month: date) -> list[tuple]:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(
            "select model_version, count(*) from scoring.predictions where application_month = ? group by 1",
            [month],
        ).fetchall()


@pytest.mark.parametrize("delay", [0.0, 0.4, 1.0])
def test_a_prediction_write_killed_mid_write_shows_the_old_scores_or_the_new_never_a_mix(tmp_path, delay):
    paths = DataPaths(tmp_path / "data").create()
    month = date(2021, 1, 1)
    # Only the writer that is killed needs a process of its own; the writes before and after run here.
    write_predictions(paths.warehouse, month, 1000, "old")
    assert predictions_of(paths, month) == [("old", 1000)]

    writer = ["-m", "tests.system.write_predictions", str(paths.warehouse), "2021-01"]
    killed = kill_after(start([*writer, str(PREDICTION_ROWS), "new"], paths.root), "writing", delay)

    state = predictions_of(paths, month)
    assert state in ([("old", 1000)], [("new", PREDICTION_ROWS)])
    if delay == 0.0:
        assert killed and state == [("old", 1000)], "a kill inside the transaction must roll back"
    write_predictions(paths.warehouse, month, PREDICTION_ROWS, "new")
    assert predictions_of(paths, month) == [("new", PREDICTION_ROWS)]
