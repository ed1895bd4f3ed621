"""Loading good deliveries: one transaction, a ledger row each, the same content twice is a no-op.

Valid variants of a file (column order, line endings, byte-order mark, quoting, integers
written as floats, extra columns, TARGET absent or empty) give the same warehouse rows.
"""

from __future__ import annotations

import pandas as pd
import pytest

from warehouse.database import connect
from warehouse.ingestion.loader import DeliveryRejected, load_delivery
from warehouse.paths import DataPaths


def counts(paths: DataPaths) -> dict:
    with connect(paths.warehouse, read_only=True) as connection:
        return dict(connection.execute("select delivery_file, count(*) from raw.applications group by 1").fetchall())


def ledger(paths: DataPaths) -> list[tuple]:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(
            "select delivery_file, status, row_count, sha256 from raw.load_ledger order by loaded_at"
        ).fetchall()


def loaded_rows(paths: DataPaths) -> pd.DataFrame:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.sql("select * exclude (loaded_at) from raw.applications order by sk_id_curr").df()


@pytest.fixture
def paths(tmp_path) -> DataPaths:
    return DataPaths(tmp_path / "data").create()


def write(frame: pd.DataFrame, path, **to_csv) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, **to_csv)
    return path


def test_history_and_month_load_with_ledger_rows(paths, deliveries_dir, small_frame):
    history = load_delivery(deliveries_dir / "initial.csv", paths)
    month = load_delivery(deliveries_dir / "20201001.csv", paths)
    assert (history.status, month.status) == ("loaded", "loaded")
    assert counts(paths) == {"initial.csv": history.rows, "20201001.csv": month.rows}
    assert history.rows + 4 * month.rows == len(small_frame)
    assert [row[:3] for row in ledger(paths)] == [
        ("initial.csv", "loaded", history.rows),
        ("20201001.csv", "loaded", month.rows),
    ]
    with connect(paths.warehouse, read_only=True) as connection:
        typed = connection.execute(
            "select typeof(sk_id_curr), typeof(amt_credit), typeof(code_gender), min(application_month)"
            " from raw.applications where delivery_file = '20201001.csv' group by all"
        ).fetchone()
        loaded_credit = connection.execute(
            "select sum(amt_credit) from raw.applications where delivery_file = 'initial.csv'"
        ).fetchone()[0]
    assert typed[:3] == ("BIGINT", "DOUBLE", "VARCHAR") and str(typed[3]) == "2020-10-01"
    assert loaded_credit == pytest.approx(small_frame["AMT_CREDIT"].iloc[: history.rows].sum())


def test_the_same_file_again_changes_nothing_and_says_so(paths, deliveries_dir):
    load_delivery(deliveries_dir / "20201001.csv", paths)
    before = (counts(paths), ledger(paths))
    again = load_delivery(deliveries_dir / "20201001.csv", paths)
    assert again.status == "unchanged" and "nothing to do" in again.describe()
    assert (counts(paths), ledger(paths)) == before


def test_a_file_the_ledger_knows_but_the_tables_lack_is_loaded_again(paths, deliveries_dir):
    """The ledger of a data directory also records Spark's loads: it is not proof that DuckDB holds the rows."""
    first = load_delivery(deliveries_dir / "20201001.csv", paths)
    with connect(paths.warehouse) as connection:
        connection.execute("delete from raw.applications where delivery_file = ?", ["20201001.csv"])
    again = load_delivery(deliveries_dir / "20201001.csv", paths)
    assert (again.status, again.rows) == ("replaced", first.rows)
    assert counts(paths) == {"20201001.csv": first.rows}


def test_new_content_for_a_month_replaces_it_and_the_ledger_keeps_both(paths, deliveries_dir, tmp_path):
    first = load_delivery(deliveries_dir / "20201001.csv", paths)
    corrected = pd.read_csv(deliveries_dir / "20201001.csv").iloc[:-10]
    second = load_delivery(write(corrected, tmp_path / "redelivery" / "20201001.csv"), paths)
    assert second.status == "replaced"
    assert counts(paths) == {"20201001.csv": len(corrected)}
    assert [(row[1], row[2], row[3]) for row in ledger(paths)] == [
        ("loaded", first.rows, first.sha256),
        ("replaced", len(corrected), second.sha256),
    ]


VARIANTS = {
    "columns in another order": lambda frame, path: write(frame[frame.columns[::-1]], path),
    "CRLF line endings": lambda frame, path: write(frame, path, lineterminator="\r\n"),
    "a UTF-8 byte-order mark": lambda frame, path: write(frame, path, encoding="utf-8-sig"),
    "every field quoted": lambda frame, path: write(frame, path, quoting=1),
    "integers written as floats": lambda frame, path: write(
        frame.astype({"CNT_CHILDREN": float, "FLAG_MOBIL": float, "SK_ID_CURR": float}), path
    ),
    "an extra column": lambda frame, path: write(frame.assign(BRANCH_CODE="B17"), path),
}


ONE_PASS_REFUSED = "field by field"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_valid_variants_give_the_same_rows_as_the_plain_file(variant, deliveries_dir, tmp_path):
    plain = DataPaths(tmp_path / "plain").create()
    load_delivery(deliveries_dir / "20201101.csv", plain)
    frame = pd.read_csv(deliveries_dir / "20201101.csv", dtype=str, keep_default_na=False)
    varied = DataPaths(tmp_path / "varied").create()
    said = []
    result = load_delivery(VARIANTS[variant](frame, tmp_path / "variant" / "20201101.csv"), varied, said.append)
    # A column the contract does not know is checked field by field: the one-pass reader would skip it unread.
    one_pass = not any(ONE_PASS_REFUSED in message for message in said)
    assert one_pass == (variant != "an extra column"), said
    pd.testing.assert_frame_equal(loaded_rows(varied), loaded_rows(plain))
    assert result.rows == len(frame)
    if variant == "an extra column":
        assert result.warnings == ["column 'BRANCH_CODE' is not in the contract and was not loaded"]
        with connect(varied.warehouse, read_only=True) as connection:
            message = connection.execute("select message from raw.load_ledger").fetchone()[0]
        assert "BRANCH_CODE" in message
    else:
        assert result.warnings == []


@pytest.mark.parametrize("how", ["absent", "empty"])
def test_a_month_whose_outcomes_are_unknown_loads_with_target_null(how, deliveries_dir, tmp_path):
    plain = DataPaths(tmp_path / "plain").create()
    load_delivery(deliveries_dir / "20201101.csv", plain)
    frame = pd.read_csv(deliveries_dir / "20201101.csv", dtype=str, keep_default_na=False)
    frame = frame.drop(columns=["TARGET"]) if how == "absent" else frame.assign(TARGET="")
    unlabelled = DataPaths(tmp_path / "unlabelled").create()
    load_delivery(write(frame, tmp_path / "in" / "20201101.csv"), unlabelled)
    rows = loaded_rows(unlabelled)
    assert rows["target"].isna().all()
    pd.testing.assert_frame_equal(rows.drop(columns="target"), loaded_rows(plain).drop(columns="target"))


def test_a_number_field_of_spaces_only_is_missing_though_the_one_pass_reader_refuses_it(deliveries_dir, tmp_path):
    frame = pd.read_csv(deliveries_dir / "20201101.csv", dtype=str, keep_default_na=False)
    frame.loc[frame.index[2], "AMT_ANNUITY"] = ""
    empty = DataPaths(tmp_path / "empty").create()
    load_delivery(write(frame, tmp_path / "empty_in" / "20201101.csv"), empty)
    frame.loc[frame.index[2], "AMT_ANNUITY"] = "   "
    spaces = DataPaths(tmp_path / "spaces").create()
    said = []
    result = load_delivery(write(frame, tmp_path / "spaces_in" / "20201101.csv"), spaces, said.append)
    assert any(ONE_PASS_REFUSED in message for message in said)
    assert result.status == "loaded" and result.rows == len(frame)
    pd.testing.assert_frame_equal(loaded_rows(spaces), loaded_rows(empty))
    assert loaded_rows(spaces)["amt_annuity"].isna().sum() >= 1


def test_a_rejected_one_pass_read_leaves_the_previous_version_whole(paths, deliveries_dir, tmp_path):
    """The one-pass insert runs after the old rows are deleted, in one transaction: a refusal restores them."""
    load_delivery(deliveries_dir / "20201101.csv", paths)
    before = loaded_rows(paths)
    frame = pd.read_csv(deliveries_dir / "20201101.csv", dtype=str, keep_default_na=False)
    frame.loc[frame.index[-1], "CNT_CHILDREN"] = "2.5"
    with pytest.raises(DeliveryRejected):
        load_delivery(write(frame, tmp_path / "in" / "20201101.csv"), paths)
    pd.testing.assert_frame_equal(loaded_rows(paths), before)
    assert [row[1] for row in ledger(paths)] == ["loaded", "rejected"]
