"""Months run in order: a month never loads or trains without the months before it, and a change to an
earlier month marks every later month stale (issue 13, "Order, audit and locks")."""

from __future__ import annotations

import shutil
from datetime import date, datetime

import dagster as dg
import duckdb
import pandas as pd
import pytest

from assets.asset_keys import MONTHLY_OUTBOX
from assets.command_line.main import main
from assets.dagster_instance import dagster_instance
from assets.raw_deliveries import RAW_APPLICATIONS, missing_months_message, raw_deliveries
from assets.resources import WarehouseResource
from assets.run_notifications import PARTITION_TAG
from assets.run_records import month_states
from assets.staleness import DATA_VERSION_TAG
from tests.assets.test_sensors import age, evaluate
from warehouse.database import LEDGER_DDL, connect
from warehouse.ingestion.ledger import month_inputs, months_before, months_missing_before, unbuilt_deliveries
from warehouse.publishing.notifications import read_notifications

OCTOBER, NOVEMBER, DECEMBER, JANUARY = date(2020, 10, 1), date(2020, 11, 1), date(2020, 12, 1), date(2021, 1, 1)


def _ledger(rows: list[tuple[str, str, date | None, str, str]]) -> duckdb.DuckDBPyConnection:
    """An in-memory ledger holding (file, kind, month, status, sha256) rows."""
    connection = duckdb.connect()
    connection.execute("create schema raw")
    connection.execute(LEDGER_DDL)
    for number, (file_name, kind, month, status, sha256) in enumerate(rows):
        connection.execute(
            "insert into raw.load_ledger values (?, ?, ?, ?, 10, ?, 'inbox', null, ?)",
            [file_name, kind, month, status, sha256, datetime(2026, 1, 1, 0, number)],
        )
    return connection


def test_the_ledger_names_the_missing_earlier_months_and_month_inputs_cover_every_earlier_month():
    connection = _ledger(
        [
            ("initial.csv", "history", None, "loaded", "h1"),
            ("20201001.csv", "applications", OCTOBER, "rejected", "bad"),
            ("20201101.csv", "applications", NOVEMBER, "loaded", "n1"),
            ("20201201.csv", "applications", DECEMBER, "loaded", "d1"),
            ("outcomes_20201101.csv", "outcomes", NOVEMBER, "loaded", "o1"),
        ]
    )
    assert months_before(OCTOBER) == [] and months_before(JANUARY) == [OCTOBER, NOVEMBER, DECEMBER]
    assert months_missing_before(connection, OCTOBER) == []
    assert months_missing_before(connection, NOVEMBER) == [OCTOBER], "a rejected file is not loaded"
    assert months_missing_before(connection, date(2021, 2, 1)) == [OCTOBER, JANUARY]
    assert month_inputs(connection, NOVEMBER, outcomes=False) == [("20201101.csv", "n1"), ("initial.csv", "h1")]
    december = month_inputs(connection, DECEMBER, outcomes=False)
    assert [name for name, _ in december] == ["20201101.csv", "20201201.csv", "initial.csv"]
    assert month_inputs(connection, DECEMBER, outcomes=True) == [("outcomes_20201101.csv", "o1")]


def test_the_missing_months_message_says_which_files_wait_in_the_inbox(data_dir):
    (data_dir.inbox / "20201101.csv").unlink()
    message = missing_months_message(data_dir, DECEMBER, [OCTOBER, NOVEMBER])
    assert "2020-10 (20201001.csv is waiting in the inbox: run 2020-10 first)" in message
    assert "2020-11 (20201101.csv was never loaded and is not in the inbox" in message


@pytest.mark.slow  # load steps run through Dagster
def test_a_month_whose_earlier_month_is_missing_fails_at_once_and_loads_nothing(data_dir, capsys):
    assert main(["load", str(data_dir.inbox / "initial.csv")]) == 0
    (data_dir.inbox / "20201001.csv").unlink()
    assert main(["run", "2020-11"]) == 1
    assert "2020-10" in capsys.readouterr().err
    [notification] = read_notifications(data_dir)
    assert notification["event"] == "run_failed" and notification["month"] == "2020-11"
    [step] = notification["details"]["failed_steps"]
    assert step["step"] == "raw_deliveries"
    assert "2020-10 (20201001.csv was never loaded and is not in the inbox" in step["error"]
    with dagster_instance(data_dir) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.FAILURE
        assert instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    with connect(data_dir.warehouse, read_only=True) as connection:
        assert (
            connection.execute(
                "select count(*) from raw.applications where application_month = ?", [NOVEMBER]
            ).fetchone()[0]
            == 0
        )
        assert (
            connection.execute("select count(*) from raw.load_ledger where delivery_file = '20201101.csv'").fetchone()[
                0
            ]
            == 0
        )


def _at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute)  # as `_ledger` dates its rows


def test_a_delivery_loaded_after_the_features_were_built_is_named_until_they_are_built_from_it():
    connection = _ledger(
        [
            ("initial.csv", "history", None, "loaded", "h1"),
            ("20201001.csv", "applications", OCTOBER, "loaded", "a1"),
            ("outcomes_20201001.csv", "outcomes", OCTOBER, "loaded", "o1"),
            ("20201001.csv", "applications", OCTOBER, "replaced", "a2"),
            ("20201101.csv", "applications", NOVEMBER, "loaded", "n1"),  # November's own: not in its training set
        ]
    )
    built = {"initial.csv": {_at(0)}, "20201001.csv": {_at(3)}, "outcomes_20201001.csv": {_at(2)}}
    assert not unbuilt_deliveries(connection, NOVEMBER, built)
    assert not unbuilt_deliveries(connection, OCTOBER, {"initial.csv": {_at(0)}}), "October reads the history alone"
    # The marts built from October's first version, or from part of each: the correction is not in them.
    assert unbuilt_deliveries(connection, NOVEMBER, {**built, "20201001.csv": {_at(1)}}) == (["20201001.csv"], [])
    assert unbuilt_deliveries(connection, NOVEMBER, {**built, "20201001.csv": {_at(1), _at(3)}}).stale == [
        "20201001.csv"
    ]
    # An outcome file whose labels were never built.
    without_outcomes = {name: loads for name, loads in built.items() if not name.startswith("outcomes")}
    assert unbuilt_deliveries(connection, NOVEMBER, without_outcomes).stale == ["outcomes_20201001.csv"]
    # Rows in the marts of a delivery the ledger has not loaded (a write begun, never finished).
    unrecorded = {**built, "20201001.csv": {_at(1)}, "outcomes_20200901.csv": {_at(9)}}
    assert unbuilt_deliveries(connection, NOVEMBER, unrecorded) == (["20201001.csv"], ["outcomes_20200901.csv"])


@pytest.mark.slow  # a training run through Dagster
def test_training_a_month_ahead_whose_earlier_months_are_missing_fails_and_names_them(data_dir, capsys):
    assert main(["load", str(data_dir.inbox / "initial.csv")]) == 0
    assert main(["train", "2020-12"]) == 1
    printed = capsys.readouterr().err
    assert "training_set: 2020-12 cannot train: 2020-10, 2020-11 not loaded yet" in printed, printed
    [notification] = read_notifications(data_dir)
    assert notification["event"] == "run_failed" and notification["text"].startswith("credit 2020-12 model: run ")
    assert "delivery" not in notification["details"], "a model run waits for no delivery"
    with dagster_instance(data_dir) as instance:
        [run] = instance.get_runs()
        assert run.job_name == "train_ahead" and run.status == dg.DagsterRunStatus.FAILURE
        assert instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY) == []

    # The first month has no month before it, but no features either until its own run builds them.
    assert main(["train", "2020-10"]) == 1
    printed = capsys.readouterr().err
    assert "2020-10 cannot train: no features are built yet" in printed, printed
    with dagster_instance(data_dir) as instance:
        latest = instance.get_runs(limit=1)[0]
        assert instance.all_logs(latest.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY) == []


@dg.op
def _noop():
    pass


@dg.job
def _other_job():
    _noop()


@pytest.mark.slow  # load steps run through Dagster
def test_the_sensor_never_starts_a_month_before_the_months_before_it(data_dir, tmp_path):
    aside = tmp_path / "aside"
    aside.mkdir()
    for name in ("20201001.csv", "20201201.csv", "20210101.csv"):
        shutil.move(data_dir.inbox / name, aside / name)
    for path in data_dir.inbox.glob("*.csv"):
        age(path)
    with dg.instance_for_test() as instance:
        requests, cursor = evaluate(data_dir, instance)
        assert requests == []
        assert "20201101.csv" not in cursor and "initial.csv" in cursor, "the waiting file is looked at again"
        assert evaluate(data_dir, instance, cursor)[0] == [], "it keeps waiting"

        shutil.move(aside / "20201001.csv", data_dir.inbox / "20201001.csv")
        age(data_dir.inbox / "20201001.csv")
        requests, cursor = evaluate(data_dir, instance, cursor)
        assert [request.partition_key for request in requests] == ["2020-10-01", "2020-11-01"]
        assert "20201101.csv" in cursor

    # An earlier month with a run on its way (queued runs need a code location here; started ones do not),
    # or already loaded, lets the month start.
    (data_dir.inbox / "20201001.csv").unlink()
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(_other_job, status=dg.DagsterRunStatus.STARTED, tags={PARTITION_TAG: "2020-10-01"})
        assert [request.partition_key for request in evaluate(data_dir, instance)[0]] == ["2020-11-01"]
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(_other_job, status=dg.DagsterRunStatus.FAILURE, tags={PARTITION_TAG: "2020-10-01"})
        assert evaluate(data_dir, instance)[0] == [], "a failed run of 2020-10 loaded nothing"
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_APPLICATIONS, partition="2020-10-01"))
        assert [request.partition_key for request in evaluate(data_dir, instance)[0]] == ["2020-11-01"]


def _versions(paths) -> dict[str, tuple[str, str]]:
    """Per raw_applications partition: the latest recorded data version and the run that recorded it."""
    with dagster_instance(paths) as instance:
        versions = {}
        for partition in sorted(instance.get_materialized_partitions(RAW_APPLICATIONS)):
            [record] = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=RAW_APPLICATIONS, asset_partitions=[partition]), limit=1
            ).records
            versions[partition] = (record.asset_materialization.tags[DATA_VERSION_TAG], record.run_id)
        return versions


def _load_step(paths, partition: str) -> dg.ExecuteInProcessResult:
    with dagster_instance(paths) as instance:
        return dg.materialize(
            [raw_deliveries],
            partition_key=partition,
            instance=instance,
            resources={"warehouse": WarehouseResource(data_dir=str(paths.root))},
        )


def _drop_rows(source, target, rows: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    pd.read_csv(source).iloc[:-rows].to_csv(target, index=False)


@pytest.mark.slow  # load steps run through Dagster
def test_replacing_an_earlier_month_marks_every_later_month_stale(data_dir, tmp_path, capsys):
    assert _load_step(data_dir, "2020-10-01").success
    assert _load_step(data_dir, "2020-11-01").success
    with connect(data_dir.warehouse, read_only=True) as connection:
        assert [name for name, _ in month_inputs(connection, NOVEMBER, outcomes=False)] == [
            "20201001.csv",
            "20201101.csv",
            "initial.csv",
        ]
    with dagster_instance(data_dir) as instance:  # November published, as a month's run would record it
        instance.report_runless_asset_event(dg.AssetMaterialization(MONTHLY_OUTBOX, partition="2020-11-01"))
    assert {state.month: state.state for state in month_states(data_dir)}["2020-11"] == "published"
    before = _versions(data_dir)

    # A correction of October loaded by hand: both October and November have new data.
    corrected = tmp_path / "corrections" / "20201001.csv"
    _drop_rows(data_dir.inbox / "20201001.csv", corrected, 7)
    capsys.readouterr()
    assert main(["load", str(corrected)]) == 0
    out = capsys.readouterr().out
    assert "recorded in Dagster: raw_applications 2020-10-01" in out
    assert "recorded in Dagster: raw_applications 2020-11-01" in out
    assert "raw_outcomes" not in out, "no outcome file changed"
    after_load = _versions(data_dir)
    assert after_load["2020-10-01"][0] != before["2020-10-01"][0]
    assert after_load["2020-11-01"][0] != before["2020-11-01"][0]
    assert {state.month: state.state for state in month_states(data_dir)}["2020-11"] == "stale"

    # A correction of October replaced by October's own run: the run records November's new version.
    _drop_rows(data_dir.inbox / "20201001.csv", data_dir.inbox / "20201001.csv", 11)
    result = _load_step(data_dir, "2020-10-01")
    assert result.success
    after_run = _versions(data_dir)
    assert after_run["2020-10-01"] == (after_run["2020-10-01"][0], result.run_id), "the run records its own month"
    assert after_run["2020-10-01"][0] != after_load["2020-10-01"][0]
    assert after_run["2020-11-01"][0] != after_load["2020-11-01"][0]
    assert after_run["2020-11-01"][1] != result.run_id, "a later month is recorded outside the run's own partition"

    # Nothing loaded: nothing recorded.
    assert _load_step(data_dir, "2020-11-01").success
    again = _versions(data_dir)
    assert _load_step(data_dir, "2020-10-01").success
    assert _versions(data_dir)["2020-11-01"] == again["2020-11-01"]
