"""dbt waits for the warehouse lock like the Python connections do, instead of failing at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from warehouse.database import dbt_connect_attempts, lock_wait_seconds
from warehouse.paths import DBT_PROJECT_DIR, DataPaths, dbt_executable

# Opens the warehouse for writing, says so, and holds DuckDB's lock until its stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys
    import duckdb

    connection = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.read()
    connection.close()
    """
)
# dbt's debug log line just before it opens the warehouse (dbt-core's NewConnectionOpening event).
OPENING = "Opening a new connection"


def test_connect_attempts_fit_the_wait():
    # dbt-duckdb sleeps 1, 2, 4 ... s after each failed attempt: n attempts give up after 2**n - 1 s.
    assert dbt_connect_attempts(600) == 9
    assert dbt_connect_attempts(511) == 9
    assert dbt_connect_attempts(510) == 8
    assert dbt_connect_attempts(3) == 2
    assert dbt_connect_attempts(1) == 1
    assert dbt_connect_attempts(0) == 1
    for wait in (1, 7, 100, 600, 3600):
        attempts = dbt_connect_attempts(wait)
        assert 2**attempts - 1 <= wait < 2 ** (attempts + 1) - 1


class Holder:
    """Another process holding the warehouse's write lock until `release`."""

    def __init__(self, warehouse: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(warehouse)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "holding", self.process.stderr.read()

    def release(self) -> None:
        if not self.process.stdin.closed:
            self.process.stdin.close()

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.process.wait(timeout=60)


def start_dbt(paths: DataPaths, target: Path, connect_attempts: int) -> subprocess.Popen:
    """`dbt run` of the staging view with its debug log on stdout, read as it comes."""
    return subprocess.Popen(
        [
            dbt_executable(),
            "--log-level",
            "debug",
            "run",
            "--select",
            "stg_home_credit__applications",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(target),
        ],
        env={**os.environ, "CREDIT_DATA_DIR": str(paths.root), "CREDIT_DBT_CONNECT_ATTEMPTS": str(connect_attempts)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=DBT_PROJECT_DIR,
    )


@pytest.fixture
def warehouse_copy(built_warehouse, tmp_path) -> DataPaths:
    paths = DataPaths(tmp_path / "data").create()
    shutil.copy(built_warehouse.warehouse, paths.warehouse)
    return paths


@pytest.mark.slow  # dbt against a held lock
def test_without_retries_dbt_fails_on_a_held_lock(warehouse_copy, tmp_path):
    """The control: the holder below really stops dbt when dbt does not wait."""
    with Holder(warehouse_copy.warehouse):
        dbt = start_dbt(warehouse_copy, tmp_path / "target", connect_attempts=1)
        output, _ = dbt.communicate(timeout=300)
    assert dbt.returncode != 0
    assert "lock" in output.lower(), output[-3000:]


@pytest.mark.slow  # dbt against a held lock
def test_a_dbt_step_waits_for_another_process_holding_the_lock(warehouse_copy, tmp_path):
    with Holder(warehouse_copy.warehouse) as holder:
        dbt = start_dbt(warehouse_copy, tmp_path / "target", dbt_connect_attempts(lock_wait_seconds()))
        output, release = [], None
        for line in dbt.stdout:
            output.append(line)
            if release is None and OPENING in line:
                # dbt is trying the warehouse now: it fails at least once, then the lock goes.
                release = threading.Timer(1.5, holder.release)
                release.start()
        dbt.wait(timeout=300)
        if release is not None:
            release.join()
    log = "".join(output)
    assert release is not None, f"dbt never opened the warehouse:\n{log[-3000:]}"
    assert dbt.returncode == 0, log[-3000:]
