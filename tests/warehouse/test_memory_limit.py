"""DuckDB's memory caps: read from the environment, checked before any lock is waited for, applied."""

from __future__ import annotations

import pytest

from warehouse.database import LOAD_MEMORY_LIMIT_VARIABLE, MEMORY_LIMIT_VARIABLE, SettingError, connect
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DataPaths


@pytest.mark.parametrize("value", ["0GB", "lots", "2 G", "-1GB", ""])
def test_a_bad_memory_limit_is_refused_before_the_warehouse_is_opened(value, tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, value)
    paths = DataPaths(tmp_path / "data")
    with pytest.raises(SettingError, match=MEMORY_LIMIT_VARIABLE), connect(paths.warehouse):
        pass
    assert not paths.warehouse.exists()


@pytest.mark.parametrize(("value", "shown"), [("1500MB", "1.3 GiB"), ("1gb", "953.6 MiB"), (None, "1.8 GiB")])
def test_the_memory_limit_reaches_duckdb(value, shown, tmp_path, monkeypatch):
    if value is None:
        monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)  # the default, 2GB
    else:
        monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, value)
    with connect(DataPaths(tmp_path / "data").warehouse) as connection:
        assert connection.execute("select current_setting('memory_limit')").fetchone()[0] == shown


def test_a_bad_load_memory_limit_stops_a_load_before_it_reads_the_file(deliveries_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(LOAD_MEMORY_LIMIT_VARIABLE, "plenty")
    paths = DataPaths(tmp_path / "data").create()
    with pytest.raises(SettingError, match=LOAD_MEMORY_LIMIT_VARIABLE):
        load_delivery(deliveries_dir / "20201001.csv", paths)
    assert (deliveries_dir / "20201001.csv").exists() and not list(paths.quarantine.iterdir())
