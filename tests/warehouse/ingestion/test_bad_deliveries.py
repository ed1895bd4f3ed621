"""Bad deliveries, one file per way a delivery can be wrong.

Each goes through `credit load` and must: exit non-zero, name the problem, leave the
warehouse rows and predictions exactly as they were, and end up in quarantine beside a
JSON report listing every problem found.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from assets.command_line.main import main
from warehouse.database import connect
from warehouse.ingestion.delivery_names import add_months, outcomes_file_name
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DataPaths
from warehouse.publishing.predictions_table import replace_month


@pytest.fixture(scope="session")
def loaded_template(deliveries_dir, tmp_path_factory) -> DataPaths:
    """History and October loaded, October scored: the state every bad delivery must leave alone."""
    paths = DataPaths(tmp_path_factory.mktemp("template")).create()
    load_delivery(deliveries_dir / "initial.csv", paths)
    load_delivery(deliveries_dir / "20201001.csv", paths)
    with connect(paths.warehouse) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "select sk_id_curr from raw.applications where application_month = '2020-10-01'"
            ).fetchall()
        ]
        replace_month(
            connection,
            date(2020, 10, 1),
            pd.DataFrame(
                {
                    "sk_id_curr": ids,
                    "application_month": date(2020, 10, 1),
                    "default_probability": 0.08,
                    "risk_grade": "C",
                    "decision": "approve",
                    "model_version": "2020-10.test",
                    "scored_at": datetime(2020, 10, 2),
                    **{f"reason_code_{i}": "ext_source_3" for i in (1, 2, 3, 4)},
                    **{f"reason_{i}": "External score 3: 0.2" for i in (1, 2, 3, 4)},
                    "review_from": 0.12,
                    "decline_from": 0.30,
                }
            ),
        )
    return paths


@pytest.fixture
def paths(loaded_template, tmp_path, monkeypatch) -> DataPaths:
    paths = DataPaths(tmp_path / "data").create()
    shutil.copy(loaded_template.warehouse, paths.warehouse)
    monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
    return paths


def warehouse_state(paths: DataPaths) -> dict:
    with connect(paths.warehouse, read_only=True) as connection:
        return {
            "applications": connection.execute(
                "select delivery_file, count(*), sum(sk_id_curr), sum(amt_credit)"
                " from raw.applications group by 1 order by 1"
            ).fetchall(),
            "outcomes": connection.execute("select count(*), sum(sk_id_curr) from raw.outcomes").fetchall(),
            "predictions": connection.execute(
                "select application_month, count(*), sum(sk_id_curr), sum(default_probability)"
                " from scoring.predictions group by 1"
            ).fetchall(),
            "loaded": connection.execute(
                "select delivery_file, sha256 from raw.load_ledger where status <> 'rejected' order by loaded_at"
            ).fetchall(),
        }


def month_frame(deliveries_dir: Path, name: str = "20201101.csv") -> pd.DataFrame:
    return pd.read_csv(deliveries_dir / name, dtype=str, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def set_value(frame: pd.DataFrame, row: int, column: str, value: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[row], column] = value
    return frame


def next_month_name() -> str:
    return f"{add_months(date.today().replace(day=1), 1):%Y%m}01.csv"


def raw_bytes(deliveries_dir: Path, name: str = "20201101.csv") -> bytes:
    return (deliveries_dir / name).read_bytes()


def october_id(deliveries_dir: Path) -> str:
    return month_frame(deliveries_dir, "20201001.csv")["SK_ID_CURR"].iloc[3]


def outcomes_for(deliveries_dir: Path, name: str, rows: int = 20) -> pd.DataFrame:
    frame = month_frame(deliveries_dir, name).iloc[:rows]
    return frame[["SK_ID_CURR", "TARGET"]]


# Each case: (how to make the file, the check that must be reported, words the message must contain).
def _frame_case(name, change, check, words):
    def make(deliveries_dir: Path, folder: Path) -> Path:
        return write_csv(change(deliveries_dir), folder / name)

    return make, check, words


def _bytes_case(name, content, check, words):
    def make(deliveries_dir: Path, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content(deliveries_dir))
        return path

    return make, check, words


def _ragged(deliveries_dir: Path) -> bytes:
    lines = raw_bytes(deliveries_dir).split(b"\n")
    lines[5] = lines[5] + b",surplus"
    return b"\n".join(lines)


def _truncated(deliveries_dir: Path) -> bytes:
    content = raw_bytes(deliveries_dir)
    return content[: int(len(content) * 0.6)]


def _latin1_in_an_extra_column(deliveries_dir: Path) -> bytes:
    lines = raw_bytes(deliveries_dir).split(b"\n")
    lines[0] += b",BRANCH_NOTE"
    lines[1:] = [line + (b",Cr\xe9dit" if number == 3 else b",ok") for number, line in enumerate(lines[1:]) if line]
    return b"\n".join(lines) + b"\n"


def _latin1(deliveries_dir: Path) -> bytes:
    lines = raw_bytes(deliveries_dir).split(b"\n")
    lines[7] = lines[7].replace(b"Cash loans", b"Cr\xe9dit loans", 1)
    return b"\n".join(lines)


CASES = {
    "required column missing": _frame_case(
        "20201101.csv", lambda d: month_frame(d).drop(columns=["AMT_CREDIT"]), "missing_column", ["AMT_CREDIT"]
    ),
    "text in a number column": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 4, "AMT_CREDIT", "a lot"),
        "bad_value",
        ["AMT_CREDIT", "'a lot'", "line 6"],
    ),
    "a fraction in a whole-number column": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 2, "CNT_CHILDREN", "1.5"),
        "bad_value",
        ["CNT_CHILDREN", "'1.5'"],
    ),
    # DuckDB's reader takes these three as numbers; the contract does not (`direct_load`).
    "digit grouping in a number": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 3, "AMT_CREDIT", "250_000"),
        "bad_value",
        ["AMT_CREDIT", "'250_000'", "line 5"],
    ),
    "an infinite number": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 5, "AMT_ANNUITY", "inf"),
        "bad_value",
        ["AMT_ANNUITY", "'inf'", "line 7"],
    ),
    "a whole number too large to hold": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 6, "DAYS_BIRTH", "-9e15"),
        "bad_value",
        ["DAYS_BIRTH", "'-9e15'", "line 8"],
    ),
    "id missing": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 9, "SK_ID_CURR", ""),
        "missing_id",
        ["SK_ID_CURR is empty", "line 11"],
    ),
    "id duplicated in the file": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 9, "SK_ID_CURR", month_frame(d)["SK_ID_CURR"].iloc[3]),
        "duplicate_id",
        ["appears on 2 rows", "lines 5, 11"],
    ),
    "id delivered in an earlier month": _frame_case(
        "20201101.csv",
        lambda d: set_value(month_frame(d), 0, "SK_ID_CURR", october_id(d)),
        "id_already_delivered",
        ["already delivered in 20201001.csv"],
    ),
    "target other than 0 or 1": _frame_case(
        "20201101.csv", lambda d: set_value(month_frame(d), 1, "TARGET", "2"), "bad_target", ["must be 0 or 1"]
    ),
    "a column twice": _frame_case(
        "20201101.csv",
        lambda d: month_frame(d).rename(columns={"FLAG_MOBIL": "AMT_CREDIT"}),
        "duplicate_column",
        ["AMT_CREDIT"],
    ),
    "a ragged row": _bytes_case("20201101.csv", _ragged, "ragged_row", ["line 6", "found 123 fields"]),
    "a truncated file": _bytes_case("20201101.csv", _truncated, "ragged_row", ["truncated"]),
    "bytes that are not UTF-8": _bytes_case("20201101.csv", _latin1, "encoding", ["not valid utf-8", "line 8"]),
    "bytes that are not UTF-8 in a column outside the contract": _bytes_case(
        "20201101.csv", _latin1_in_an_extra_column, "encoding", ["not valid utf-8", "line 5"]
    ),
    "an empty file": _bytes_case("20201101.csv", lambda d: b"", "empty_file", ["empty"]),
    "a header and no rows": _bytes_case(
        "20201101.csv", lambda d: raw_bytes(d).split(b"\n")[0] + b"\n", "no_rows", ["no rows"]
    ),
    "a name that is not a delivery": _bytes_case(
        "applications_november.csv", raw_bytes, "file_name", ["not a delivery name"]
    ),
    "a day other than the first": _bytes_case("20201115.csv", raw_bytes, "file_name", ["not a delivery name"]),
    "a month before the partitions": _bytes_case(
        "20200901.csv", raw_bytes, "file_name", ["before the first monitored month"]
    ),
    "a month later than today": _bytes_case(next_month_name(), raw_bytes, "file_name", ["later than this month"]),
    "a name made to inject SQL": _bytes_case(
        "20201101.csv'); drop table raw.applications; --.csv", raw_bytes, "file_name", ["not a delivery name"]
    ),
    "a name made to look like a path": _bytes_case(
        "..%2F..%2F20201101.csv", raw_bytes, "file_name", ["not a delivery name"]
    ),
    "outcomes for an unknown application": _frame_case(
        "outcomes_20201201.csv",
        lambda d: set_value(outcomes_for(d, "20201001.csv"), 0, "SK_ID_CURR", "999999999"),
        "unknown_id",
        ["999999999 was never delivered"],
    ),
    "outcomes other than 0 or 1": _frame_case(
        "outcomes_20201201.csv",
        lambda d: set_value(outcomes_for(d, "20201001.csv"), 0, "TARGET", "yes"),
        "bad_value",
        ["TARGET", "'yes'"],
    ),
    "outcomes with an empty target": _frame_case(
        "outcomes_20201201.csv",
        lambda d: set_value(outcomes_for(d, "20201001.csv"), 0, "TARGET", ""),
        "missing_target",
        ["TARGET is empty"],
    ),
    "outcomes dated before the application": _frame_case(
        "outcomes_20201001.csv",
        lambda d: outcomes_for(d, "20201001.csv"),
        "outcome_too_early",
        ["cannot be known by 2020-10-01"],
    ),
    "outcomes without a target column": _frame_case(
        "outcomes_20201201.csv", lambda d: outcomes_for(d, "20201001.csv")[["SK_ID_CURR"]], "missing_column", ["TARGET"]
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_delivery_is_rejected_quarantined_and_changes_nothing(case, paths, deliveries_dir, tmp_path, capsys):
    make, check, words = CASES[case]
    path = make(deliveries_dir, tmp_path / "incoming")
    before = warehouse_state(paths)

    exit_code = main(["load", str(path)])

    message = capsys.readouterr().err
    assert exit_code != 0
    assert check in message and all(word in message for word in words), message
    assert warehouse_state(paths) == before
    assert not path.exists(), "a rejected file leaves the inbox"
    [report_path] = paths.quarantine.glob("*.report.json")
    report = json.loads(report_path.read_text())
    assert report["status"] == "rejected" and check in report["problem_counts"]
    assert Path(report["quarantined_file"]).is_file()
    assert Path(report["quarantined_file"]).parent == paths.quarantine
    with connect(paths.warehouse, read_only=True) as connection:
        status, source = connection.execute(
            "select status, source_path from raw.load_ledger order by loaded_at desc limit 1"
        ).fetchone()
    assert status == "rejected" and source == report["quarantined_file"]


def test_the_report_lists_every_problem_not_just_the_first(paths, deliveries_dir, tmp_path):
    frame = month_frame(deliveries_dir)
    for row in (2, 4, 6):
        frame = set_value(frame, row, "AMT_ANNUITY", "n/a")
    frame = set_value(frame, 8, "TARGET", "7")
    frame = set_value(frame, 9, "SK_ID_CURR", "")
    path = write_csv(frame.drop(columns=["EXT_SOURCE_2"]), tmp_path / "20201101.csv")
    assert main(["load", str(path)]) == 1
    [report_path] = paths.quarantine.glob("*.report.json")
    report = json.loads(report_path.read_text())
    assert report["problem_counts"] == {"bad_value": 3, "missing_column": 1, "bad_target": 1, "missing_id": 1}
    assert [p["line"] for p in report["problems"] if p["check"] == "bad_value"] == [4, 6, 8]


def test_credit_load_exits_non_zero_and_prints_the_summary_as_a_real_process(paths, deliveries_dir, tmp_path):
    path = write_csv(set_value(month_frame(deliveries_dir), 0, "AMT_CREDIT", "lots"), tmp_path / "20201101.csv")
    done = subprocess.run(
        [sys.executable, "-m", "assets.command_line.main", "load", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "20201101.csv rejected: 1 problem" in done.stderr and "'lots' is not a number" in done.stderr
    assert "report:" in done.stderr


def test_outcomes_load_and_a_corrected_month_replaces_only_itself(paths, deliveries_dir, tmp_path):
    outcomes = outcomes_for(deliveries_dir, "20201001.csv", rows=50)
    result = load_delivery(write_csv(outcomes, tmp_path / outcomes_file_name(date(2020, 12, 1))), paths)
    assert (result.status, result.rows, result.delivery.kind) == ("loaded", 50, "outcomes")
    with connect(paths.warehouse, read_only=True) as connection:
        known = connection.execute("select count(*), min(known_from) from raw.outcomes").fetchone()
    assert known[0] == 50 and str(known[1]) == "2020-12-01"
