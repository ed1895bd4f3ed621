"""Loading deliveries: one transaction, a ledger row each, the same content twice is a no-op."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from warehouse.database import connect
from warehouse.loader import DeliveryError, load_delivery


def counts(warehouse) -> dict:
    with connect(warehouse, read_only=True) as connection:
        rows = connection.execute(
            "select delivery_file, count(*) from raw.applications group by 1"
        ).fetchall()
    return dict(rows)


def ledger(warehouse) -> list[tuple]:
    with connect(warehouse, read_only=True) as connection:
        return connection.execute(
            "select delivery_file, status, row_count, sha256 from raw.load_ledger order by loaded_at"
        ).fetchall()


def test_history_and_month_load_with_ledger_rows(tmp_path, deliveries_dir, small_frame):
    warehouse = tmp_path / "warehouse.duckdb"
    history = load_delivery(deliveries_dir / "initial.csv", warehouse)
    month = load_delivery(deliveries_dir / "20201001.csv", warehouse)
    assert (history.status, month.status) == ("loaded", "loaded")
    assert counts(warehouse) == {"initial.csv": history.rows, "20201001.csv": month.rows}
    assert history.rows + 4 * month.rows == len(small_frame)
    assert [row[:3] for row in ledger(warehouse)] == [
        ("initial.csv", "loaded", history.rows), ("20201001.csv", "loaded", month.rows)
    ]
    with connect(warehouse, read_only=True) as connection:
        typed = connection.execute(
            "select typeof(sk_id_curr), typeof(amt_credit), typeof(code_gender), min(application_month)"
            " from raw.applications where delivery_file = '20201001.csv' group by all"
        ).fetchone()
        loaded_credit = connection.execute(
            "select sum(amt_credit) from raw.applications where delivery_file = 'initial.csv'"
        ).fetchone()[0]
    assert typed[:3] == ("BIGINT", "DOUBLE", "VARCHAR") and str(typed[3]) == "2020-10-01"
    assert loaded_credit == pytest.approx(small_frame["AMT_CREDIT"].iloc[: history.rows].sum())


def test_the_same_file_again_changes_nothing(tmp_path, deliveries_dir):
    warehouse = tmp_path / "warehouse.duckdb"
    load_delivery(deliveries_dir / "20201001.csv", warehouse)
    before = (counts(warehouse), ledger(warehouse))
    again = load_delivery(deliveries_dir / "20201001.csv", warehouse)
    assert again.status == "unchanged" and "nothing to do" in again.describe()
    assert (counts(warehouse), ledger(warehouse)) == before


def test_new_content_for_a_month_replaces_it(tmp_path, deliveries_dir):
    warehouse = tmp_path / "warehouse.duckdb"
    load_delivery(deliveries_dir / "20201001.csv", warehouse)
    corrected = pd.read_csv(deliveries_dir / "20201001.csv").iloc[:-10]
    redelivered = tmp_path / "redelivery" / "20201001.csv"
    redelivered.parent.mkdir()
    corrected.to_csv(redelivered, index=False)
    result = load_delivery(redelivered, warehouse)
    assert result.status == "replaced"
    assert counts(warehouse) == {"20201001.csv": len(corrected)}
    assert [row[1] for row in ledger(warehouse)] == ["loaded", "replaced"]


def test_a_month_without_target_loads_with_unknown_outcomes(tmp_path, deliveries_dir):
    warehouse = tmp_path / "warehouse.duckdb"
    unlabelled = tmp_path / "in" / "20201101.csv"
    unlabelled.parent.mkdir()
    pd.read_csv(deliveries_dir / "20201101.csv").drop(columns=["TARGET"]).to_csv(unlabelled, index=False)
    result = load_delivery(unlabelled, warehouse)
    with connect(warehouse, read_only=True) as connection:
        labelled = connection.execute("select count(target) from raw.applications").fetchone()[0]
    assert result.rows > 0 and labelled == 0


def test_a_file_missing_a_column_is_rejected_and_nothing_changes(tmp_path, deliveries_dir):
    warehouse = tmp_path / "warehouse.duckdb"
    load_delivery(deliveries_dir / "initial.csv", warehouse)
    before = (counts(warehouse), ledger(warehouse))
    broken = tmp_path / "in" / "20201001.csv"
    broken.parent.mkdir()
    pd.read_csv(deliveries_dir / "20201001.csv").drop(columns=["AMT_CREDIT"]).to_csv(broken, index=False)
    with pytest.raises(DeliveryError, match="AMT_CREDIT"):
        load_delivery(broken, warehouse)
    assert (counts(warehouse), ledger(warehouse)) == before


def test_a_value_of_the_wrong_type_rolls_the_load_back(tmp_path, deliveries_dir):
    warehouse = tmp_path / "warehouse.duckdb"
    load_delivery(deliveries_dir / "20201001.csv", warehouse)
    before = (counts(warehouse), ledger(warehouse))
    frame = pd.read_csv(deliveries_dir / "20201001.csv", dtype=str)
    frame.loc[frame.index[-1], "AMT_CREDIT"] = "a lot"
    broken = tmp_path / "in" / "20201001.csv"
    broken.parent.mkdir()
    frame.to_csv(broken, index=False)
    with pytest.raises(DeliveryError, match="a lot"):
        load_delivery(broken, warehouse)
    assert (counts(warehouse), ledger(warehouse)) == before


def test_a_file_with_a_wrong_name_is_rejected_before_it_is_read(tmp_path, deliveries_dir):
    warehouse = tmp_path / "warehouse.duckdb"
    misnamed = tmp_path / "applications_october.csv"
    misnamed.write_bytes((deliveries_dir / "20201001.csv").read_bytes())
    with pytest.raises(ValueError, match="not a delivery name"):
        load_delivery(misnamed, warehouse)
    assert not warehouse.exists() or counts(warehouse) == {}
