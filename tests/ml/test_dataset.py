"""Training and scoring rows: point in time, snapshots with their fingerprint, an empty set refused."""

from __future__ import annotations

import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.dataset import fingerprint, read_training_set, training_rows, write_training_set
from warehouse.database import connect
from warehouse.sample_data.splitter import delivery_months


@pytest.mark.parametrize("month", delivery_months())
def test_training_set_of_month_holds_nothing_from_that_month_or_later(built_warehouse, month):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = training_rows(connection, month)
        delivered_before = connection.execute(
            "select count(*) from raw.applications where target is not null"
            " and (application_month is null or application_month < ?)",
            [month],
        ).fetchone()[0]
        ids_of_month_or_later = {
            row[0]
            for row in connection.execute(
                "select sk_id_curr from raw.applications where application_month >= ?", [month]
            ).fetchall()
        }
    months = pd.to_datetime(rows["application_month"].dropna()).dt.date
    assert (months < month).all()
    assert not ids_of_month_or_later & set(rows["sk_id_curr"])
    assert len(rows) == delivered_before and rows["target"].notna().all()
    assert rows["is_history"].sum() > 0


def test_training_set_snapshot_round_trips_with_its_fingerprint(built_warehouse, tmp_path):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        summary = write_training_set(connection, date(2020, 11, 1), tmp_path / "2020-11.parquet")
        rows = training_rows(connection, date(2020, 11, 1))
    frame = read_training_set(summary.path)
    assert len(frame) == summary.rows and fingerprint(frame) == summary.fingerprint
    # The snapshot holds exactly the training rows, in order, value for value.
    assert list(frame.columns) == list(rows.columns)
    assert (frame["sk_id_curr"].to_numpy() == rows["sk_id_curr"].to_numpy()).all()
    assert (frame["label_source"] == rows["label_source"]).all()
    assert summary.label_deliveries == ("20201001.csv", "initial.csv"), "October's labels came with its file"
    numeric = [name for name in rows.columns if name not in ("application_month", "label_source")]
    assert np.array_equal(
        frame[numeric].to_numpy(float, na_value=np.nan), rows[numeric].to_numpy(float, na_value=np.nan), equal_nan=True
    )
    assert (frame["application_month"].isna() == rows["application_month"].isna()).all()
    assert [path.name for path in tmp_path.iterdir()] == ["2020-11.parquet"]
    assert summary.latest_month == date(2020, 10, 1)
    changed = frame.copy()
    changed.loc[0, "amt_credit"] += 1
    assert fingerprint(changed) != summary.fingerprint


def test_an_empty_training_set_is_refused_and_leaves_no_file(built_warehouse, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    with connect(warehouse) as connection:
        connection.execute("delete from marts.fct_application_features")
    with connect(warehouse, read_only=True) as connection, pytest.raises(ValueError, match="no labelled applications"):
        write_training_set(connection, date(2020, 11, 1), tmp_path / "sets" / "2020-11.parquet")
    assert list((tmp_path / "sets").iterdir()) == []
