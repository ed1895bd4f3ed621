"""A second process waits for DuckDB's single-writer lock instead of failing, up to a limit."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from warehouse.database import WarehouseBusyError, connect
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DataPaths

HOLD_LOCK = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def hold_lock(paths: DataPaths, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(paths.warehouse), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def paths(tmp_path) -> DataPaths:
    paths = DataPaths(tmp_path / "data").create()
    with connect(paths.warehouse):
        pass  # the schema exists before another process holds the file
    return paths


def test_a_load_waits_for_another_writer_then_succeeds(paths, deliveries_dir, monkeypatch, caplog):
    monkeypatch.setenv("CREDIT_LOCK_WAIT_SECONDS", "60")
    holder = hold_lock(paths, 2.0)
    with caplog.at_level(logging.WARNING):
        result = load_delivery(deliveries_dir / "20201001.csv", paths)
    assert holder.wait(timeout=30) == 0
    assert result.status == "loaded" and result.rows > 0
    assert "waiting for the warehouse" in caplog.text


def test_a_writer_that_keeps_the_lock_too_long_gives_a_clear_error_and_nothing_changes(
    paths, deliveries_dir, monkeypatch
):
    monkeypatch.setenv("CREDIT_LOCK_WAIT_SECONDS", "0.5")
    holder = hold_lock(paths, 5.0)
    try:
        with pytest.raises(WarehouseBusyError, match="still in use by another process"):
            load_delivery(deliveries_dir / "20201001.csv", paths)
    finally:
        holder.kill()
        holder.wait()
    with connect(paths.warehouse, read_only=True) as connection:
        assert connection.execute("select count(*) from raw.applications").fetchone()[0] == 0
    assert (deliveries_dir / "20201001.csv").exists() and not list(paths.quarantine.iterdir())
