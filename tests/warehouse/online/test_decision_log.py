"""The decision log: fsynced lines, a crash-cut line never spoils the next, and loading is whole and repeatable."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime

import duckdb
import pytest

from warehouse.online import DecisionLogBusy
from warehouse.online.decision_log import DecisionLog, load_decision_logs, log_file_name, online_decisions

NOW = datetime(2020, 11, 20, 10, 0, tzinfo=UTC)


def decision(identifier: int) -> dict:
    return {
        "request_sha256": "a" * 64,
        "decided_at": NOW.isoformat(),
        "sk_id_curr": identifier,
        "model_version": "2020-10.abc",
        "review_from": 0.12,
        "decline_from": 0.3,
        "feature_sql_sha256": "b" * 64,
        "default_probability": 0.07,
        "risk_grade": "C",
        "decision": "approve",
        "reason_codes": ["ext_source_3"],
        "reasons": ["External score 3: 0.10"],
        "application": {"SK_ID_CURR": identifier, "NAME_CONTRACT_TYPE": "Cash loans"},
    }


def test_a_line_cut_by_a_crash_is_dropped_and_the_next_decision_starts_its_own_line(tmp_path):
    folder = tmp_path / "decisions"
    log = DecisionLog(folder)
    log.append([decision(1)], NOW)
    log.close()
    path = folder / log_file_name(NOW.date())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "applicants' data: readable by the owner only"
    with open(path, "ab") as handle:
        handle.write(b'{"request_sha256": "cut off by a cra')  # a crash before the fsync returned
    log = DecisionLog(folder)
    log.append([decision(2)], NOW)
    log.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["sk_id_curr"] for line in lines] == [1, 2]


def test_loading_is_whole_repeatable_and_skips_a_line_that_is_not_json(tmp_path):
    folder = tmp_path / "decisions"
    log = DecisionLog(folder)
    log.append([decision(1), decision(2)], NOW)
    log.close()
    with open(folder / log_file_name(NOW.date()), "ab") as handle:
        handle.write(b"not a decision\n")
    (folder / "notes.txt").write_text("never read")
    with duckdb.connect() as connection:
        connection.execute("create schema raw")
        assert load_decision_logs(connection, folder) == 2
        assert load_decision_logs(connection, folder) == 2
        assert connection.execute("select count(*) from raw.online_decisions").fetchone()[0] == 2
        [found] = online_decisions(connection, 2)
    assert found["reason_codes"] == ["ext_source_3"] and found["review_from"] == 0.12


def test_a_second_writer_on_the_same_log_is_refused_at_once(tmp_path):
    first = DecisionLog(tmp_path / "decisions")
    first.open_today(NOW)
    second = DecisionLog(tmp_path / "decisions")
    with pytest.raises(DecisionLogBusy, match="one service per data directory"):
        second.open_today(NOW)
    first.close()
    second.open_today(NOW)  # the first one gone, the next may write
    second.close()
