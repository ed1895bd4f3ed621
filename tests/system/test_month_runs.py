"""Real Dagster runs in process: two months end to end, one again (idempotent), a replaced delivery (stale)."""

from __future__ import annotations

import re
from datetime import date, datetime

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster._core.definitions.data_version import StaleStatus

# Dagster's own helper for stale status outside the webserver (what the UI shows as "Unsynced").
from dagster._utils.test.data_versions import get_stale_status_resolver

from assets.command_line.main import main
from assets.dagster_instance import dagster_instance
from assets.dbt_definitions import definition_checksum
from assets.dbt_models import MANIFEST
from assets.definitions import ALL_ASSETS, defs
from assets.engines import DuckDBEngine
from assets.month_runs import data_directory_config, run_month, train_month_ahead
from assets.partitions import partition_key, partition_month
from assets.record_names import MODEL_CONFIG_FROM_TAG, MONTHLY_PIPELINE, SCORE_MONTH
from assets.resources import WarehouseResource, default_resources
from tests.system.conftest import NOVEMBER, OCTOBER, RecordedRun, copy_of, quick_model, recorded_run, succeeded
from warehouse.database import connect
from warehouse.ingestion.ledger import unbuilt_deliveries
from warehouse.model_definitions import record_definitions, recorded_definitions
from warehouse.publishing.notifications import read_notifications


def materialise(paths, month: date, job_name: str | None = None, **model_config) -> RecordedRun:
    """The same path as `credit run`: in process, recorded in the data directory's Dagster instance."""
    return recorded_run(paths, succeeded(run_month(month, paths, quick_model(**model_config), job_name)))


def first_materialisation(paths, asset: str, month: date) -> int:
    """The storage id of the first materialisation of the asset's month: the order in which things happened."""
    with dagster_instance(paths) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition_key(month)]),
            limit=100,
        ).records
    return min(record.storage_id for record in records)


def stale_assets(paths, month: date) -> set[str]:
    with dagster_instance(paths) as instance:
        resolver = get_stale_status_resolver(instance, ALL_ASSETS)
        return {
            key.to_user_string()
            for key in defs.resolve_asset_graph().get_all_asset_keys()
            if resolver.get_status(key, partition_key(month)) == StaleStatus.STALE
        }


def dbt_tests_without_a_check(paths, run_id: str) -> list[str]:
    """dagster-dbt's warnings for dbt tests that ran with no asset check to report to (dbt's indirect selection)."""
    with dagster_instance(paths) as instance:
        messages = [entry.user_message for entry in instance.all_logs(run_id)]
    return [message for message in messages if "instead of an `AssetCheckResult`" in message]


def metadata(run: RecordedRun, asset: str) -> dict:
    [materialisation] = run.metadata[asset]  # one per asset and run
    return materialisation


def predictions(paths, month: date) -> list[tuple]:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(
            "select sk_id_curr, default_probability, risk_grade, decision, model_version"
            " from scoring.predictions where application_month = ? order by sk_id_curr",
            [month],
        ).fetchall()


def warehouse_counts(paths) -> tuple:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(
            "select (select count(*) from raw.applications), (select count(*) from raw.load_ledger),"
            " (select count(*) from scoring.predictions), (select count(*) from marts.fct_application_features)"
        ).fetchone()


PIPELINE_ASSETS = {
    "raw_applications",
    "raw_outcomes",
    "staging/stg_home_credit__applications",
    "staging/stg_home_credit__outcomes",
    "marts/fct_application_features",
    "marts/fct_application_labels",
    "training_set",
    "credit_default_model",
    "monthly_predictions",
    "monthly_outbox",
    "monitoring/drift",
    "monitoring/fairness",
    "monitoring/performance",
    "monitoring/performance_by_grade",
    "monitoring/monitoring_warnings",
    "monitoring/monitoring_months_evaluated",
    "intermediate/int_labels_known_today",
    "monitoring/unseen_levels",
    "bi_serving",
    "marts/feature_catalog",
}


def test_definitions_hold_the_pipeline_assets_and_the_monthly_job():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == PIPELINE_ASSETS
    job = defs.resolve_job_def("monthly_pipeline")
    assert job.partitions_def.get_first_partition_window().start.date() == date(2020, 10, 1)
    checks = defs.resolve_asset_graph().asset_check_keys
    assert any(check.name.startswith("unique_fct_application_features_sk_id_curr") for check in checks)
    for asset in ALL_ASSETS:
        for spec in asset.specs:
            assert spec.description, f"{spec.key.to_user_string()} has no description"


def test_partition_keys_map_to_validated_months():
    assert partition_month("2020-10-01") == date(2020, 10, 1)
    assert partition_key(date(2021, 1, 1)) == "2021-01-01"
    with pytest.raises(ValueError):
        partition_month("2020-10-01; drop table raw.applications")


def test_two_months_end_to_end_then_the_same_month_again(two_months_run, tmp_path, monkeypatch, capsys):
    october, november = OCTOBER, NOVEMBER
    # November's model, trained ahead, had to beat October's by a whole unit of AUC: it is rejected and
    # October's scores November.
    # A copy of one's own even to read: opening the shared folder's Dagster instance (SQLite) makes
    # and removes files that another process may be copying at that moment.
    data_dir = copy_of(two_months_run.paths, tmp_path / "data")
    first, second = (recorded_run(data_dir, two_months_run.runs[month]) for month in (october, november))
    trained_ahead = recorded_run(data_dir, two_months_run.models[november])
    monkeypatch.setenv("CREDIT_DATA_DIR", str(data_dir.root))
    assert dbt_tests_without_a_check(data_dir, first.run_id) == [], "every dbt test a month runs reports as a check"

    october_rows, november_rows = predictions(data_dir, october), predictions(data_dir, november)
    month_rows = metadata(second, "raw_applications")["rows"]
    assert len(october_rows) == len(november_rows) == month_rows > 0
    assert {row[3] for row in october_rows + november_rows} <= {"approve", "review", "decline"}
    # October had no model trained ahead: its run trained one first. November's was trained ahead, in a run
    # of its own before November's file was loaded, and November's run trained nothing.
    assert (first.job_name, second.job_name, trained_ahead.job_name) == (
        "monthly_pipeline",
        "score_month",
        "train_ahead",
    )
    assert {"training_set", "credit_default_model"} <= first.steps
    assert not {"training_set", "credit_default_model"} & second.steps
    assert trained_ahead.steps == {"training_set", "credit_default_model"}
    with dagster_instance(data_dir) as instance:
        carried = instance.get_run_by_id(trained_ahead.run_id).tags
    assert carried[MODEL_CONFIG_FROM_TAG] == first.run_id, "trained with October's budget, under its own run config"
    assert metadata(first, "monthly_predictions")["model_step_in_this_run"] is True
    assert metadata(second, "monthly_predictions")["model_step_in_this_run"] is False
    assert first_materialisation(data_dir, "credit_default_model", november) < first_materialisation(
        data_dir, "raw_applications", november
    )
    assert metadata(first, "credit_default_model")["trained_ahead"] is False
    assert metadata(trained_ahead, "credit_default_model")["trained_ahead"] is True
    assert metadata(trained_ahead, "credit_default_model")["label_deliveries"] == "20201001.csv, initial.csv"
    assert metadata(first, "training_set")["latest_month"] == "history only"
    assert metadata(trained_ahead, "training_set")["latest_month"] == "2020-10"
    assert metadata(trained_ahead, "training_set")["rows"] > metadata(first, "training_set")["rows"]
    assert metadata(second, "monthly_predictions")["out_of_time_auc"] > 0.65
    with connect(data_dir.warehouse, read_only=True) as connection:
        with_reason, readable = connection.execute(
            "select avg((reason_code_1 is not null)::int), avg((reason_1 <> reason_code_1)::int)"
            " from scoring.predictions where application_month = ?",
            [november],
        ).fetchone()
    assert with_reason > 0.9 and readable > 0.9, "reasons are labelled from the dbt column descriptions"

    model = metadata(trained_ahead, "credit_default_model")
    assert model["warm_started"] is True, "November's search starts from October's parameters"
    assert {f"plot_{name}" for name in ("roc", "precision_recall", "calibration", "deciles", "importance")} <= set(
        model
    )
    assert model["plot_roc"].startswith("![roc](data:image/png;base64,iVBOR")
    assert model["report"].endswith("report.html") and 0 < model["validation_brier"] < 0.1

    for month, rows in ((october, october_rows), (november, november_rows)):
        published = pd.read_csv(data_dir.outbox / f"pred_{month:%Y%m%d}.csv")
        assert list(published.columns) == [
            "SK_ID_CURR",
            "DEFAULT_PROBABILITY",
            "RISK_GRADE",
            "DECISION",
            "REASON_CODE_1",
            "REASON_CODE_2",
            "REASON_CODE_3",
            "REASON_CODE_4",
            "REASON_1",
            "REASON_2",
            "REASON_3",
            "REASON_4",
            "MODEL_VERSION",
        ]
        assert list(published["SK_ID_CURR"]) == [row[0] for row in rows]
        assert np.allclose(published["DEFAULT_PROBABILITY"], [row[1] for row in rows], atol=1e-6)
        assert list(published["DECISION"]) == [row[3] for row in rows]
    assert sorted(path.name for path in data_dir.outbox.iterdir()) == ["pred_20201001.csv", "pred_20201101.csv"]
    notified = read_notifications(data_dir)
    assert [(n["event"], n["month"], n["run_id"]) for n in notified] == [
        ("run_succeeded", "2020-10", first.run_id),
        ("run_succeeded", "2020-11", trained_ahead.run_id),
        ("run_succeeded", "2020-11", second.run_id),
    ]
    assert notified[1]["text"].startswith("credit 2020-11 model: ") and "outbox_file" not in notified[1]["details"]
    # Where the run wrote it: the shared folder, of which data_dir is a copy.
    assert notified[2]["details"]["outbox_file"] == str(two_months_run.paths.outbox / "pred_20201101.csv")

    capsys.readouterr()  # the runs' own output
    assert main(["backtest"]) == 0
    table = [line.split() for line in capsys.readouterr().out.splitlines() if line[:2] == "20"]
    assert [line[0] for line in table] == ["2020-10", "2020-11"]
    ceiling, share = (float(value) for value in table[1][7:9])
    assert 0.7 < ceiling < 0.82 and 0.85 < share < 1.05

    # What follows writes, to the copy, which nothing above wrote to.
    before = warehouse_counts(data_dir)
    features_model = "model.credit_default.fct_application_features"
    with connect(data_dir.warehouse) as connection:
        recorded = recorded_definitions(connection)
        assert recorded[features_model] == definition_checksum(MANIFEST, features_model)
        # As if the feature mart's SQL had changed since its last build: the next build recomputes every row.
        record_definitions(connection, {features_model: "an older definition"}, datetime(2020, 12, 1))
    # What dbt ran to build the mart, last.
    executed = data_dir.dbt_target / "features" / "run" / "credit_default" / "models" / "marts"
    executed /= "fct_application_features.sql"
    rebuilt_whole = re.compile(r"create\s+table")  # an incremental build deletes and inserts instead
    assert not rebuilt_whole.search(executed.read_text()), "November's run: incremental"
    # The whole pipeline again, as a backfill from the UI runs it: the model step finds the model trained
    # ahead on the very same rows (labels as of October's publication), and reuses it.
    again = materialise(data_dir, november, MONTHLY_PIPELINE, promotion_tolerance=-1.0)
    assert rebuilt_whole.search(executed.read_text()), "rebuilt whole"
    with connect(data_dir.warehouse, read_only=True) as connection:
        assert recorded_definitions(connection) == recorded
    assert metadata(again, "credit_default_model")["reused"] is True
    assert (
        metadata(again, "credit_default_model")["model_version"]
        == metadata(trained_ahead, "credit_default_model")["model_version"]
    )
    assert predictions(data_dir, november) == november_rows
    assert warehouse_counts(data_dir) == before, "a second run of a month loads and writes nothing new"
    # November's model trained ahead once more, from the same rows: reused, the same data version, so
    # November's scores, outbox and monitoring stay up to date in the UI.
    ahead_again = recorded_run(
        data_dir, succeeded(train_month_ahead(november, data_dir, quick_model(promotion_tolerance=-1.0)))
    )
    assert metadata(ahead_again, "credit_default_model")["reused"] is True
    assert stale_assets(data_dir, november) == set()

    # October's model trained again (another seed; its training alone, as `credit train` runs it): its
    # old model, which scored November, stays loadable, and `credit explain` recomputes a November
    # decision from it exactly as it was published.
    old_october = metadata(first, "credit_default_model")["model_version"]
    assert {row[4] for row in november_rows} == {old_october}
    assert metadata(trained_ahead, "credit_default_model")["registry_status"] == "rejected"
    retrained = recorded_run(data_dir, succeeded(train_month_ahead(october, data_dir, quick_model(seed=5))))
    assert metadata(retrained, "credit_default_model")["model_version"] != old_october
    with connect(data_dir.warehouse, read_only=True) as connection:
        [(old_status,)] = connection.execute(
            "select status from scoring.model_registry where version = ?", [old_october]
        ).fetchall()
    assert old_status == "superseded"
    application = november_rows[0][0]
    capsys.readouterr()
    assert main(["explain", str(application)]) == 0
    explained = capsys.readouterr().out
    assert (
        f"by model {old_october}" in explained
        and "the same probability, grade, decision and reasons as published" in explained
    )
    with connect(data_dir.warehouse, read_only=True) as connection:
        [reason] = connection.execute(
            "select reason_1 from scoring.predictions where sk_id_curr = ?", [application]
        ).fetchone()
    assert reason is None or reason in explained
    assert main(["explain", "1"]) == 2, "an application never scored"


def materialise_allowing_failure(paths, partition: str) -> dg.ExecuteInProcessResult:
    resources = {**default_resources(), "warehouse": WarehouseResource(data_dir=str(paths.root))}
    return dg.materialize(
        ALL_ASSETS, partition_key=partition, resources=resources, run_config=quick_model(), raise_on_error=False
    )


def test_a_month_without_its_file_fails_with_a_clear_message_and_a_notification(data_dir, capsys):
    (data_dir.inbox / "20201001.csv").unlink()
    assert main(["run", "2020-10"]) == 1
    assert "run_month" not in capsys.readouterr().err, "a failed month is reported, not a traceback"
    [notification] = read_notifications(data_dir)
    assert notification["event"] == "run_failed" and notification["month"] == "2020-10"
    [step] = notification["details"]["failed_steps"]
    assert step["step"] == "raw_deliveries"
    assert "no delivery for 2020-10" in step["error"] and "20201001.csv does not exist" in step["error"]
    assert notification["run_id"][:8] in notification["text"] and "raw_deliveries" in notification["text"]
    with dagster_instance(data_dir) as instance:
        [run] = instance.get_runs()
        assert run.run_id == notification["run_id"] and run.status == dg.DagsterRunStatus.FAILURE
        assert run.job_name == "monthly_pipeline"
        retries = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert retries == [], "a missing file is not a transient failure: the job's retry policy must not retry it"


def test_a_replaced_delivery_shows_that_months_assets_stale_until_rematerialised(
    october_run, tmp_path, monkeypatch, capsys
):
    october = OCTOBER
    data_dir = copy_of(october_run.paths, tmp_path / "data")
    monkeypatch.setenv("CREDIT_DATA_DIR", str(data_dir.root))
    assert stale_assets(data_dir, october) == set()

    corrected = pd.read_csv(data_dir.inbox / "20201001.csv").iloc[:-7]
    redelivery = tmp_path / "corrections" / "20201001.csv"
    redelivery.parent.mkdir()
    corrected.to_csv(redelivery, index=False)
    assert main(["load", str(redelivery)]) == 0
    assert "recorded in Dagster: raw_applications 2020-10-01" in capsys.readouterr().out
    # A training set now would hold the marts' October, built before the correction, and be recorded
    # as read from the correction: November's model cannot train until the features are built again.
    assert main(["train", "2020-11", "--trials", "1"]) == 1
    refusal = capsys.readouterr().err
    assert "2020-11 cannot train: 20201001.csv loaded after the features were last built" in refusal, refusal
    # Everything built from October's applications, but the raw data itself, what reads no
    # application file (the seed, the outcomes' staging view) and the labels view, which stores
    # nothing of its own: its table shows stale.
    # October's training set and model neither: they were made from what was known before October.
    unchanged = {
        "raw_applications",
        "raw_outcomes",
        "marts/feature_catalog",
        "staging/stg_home_credit__outcomes",
        "intermediate/int_labels_known_today",
        "training_set",
        "credit_default_model",
    }
    assert stale_assets(data_dir, october) == PIPELINE_ASSETS - unchanged

    # The old file still in the inbox is an older version: the re-run keeps the correction.
    materialise(data_dir, october)
    assert stale_assets(data_dir, october) == set()
    assert len(predictions(data_dir, october)) == len(corrected)
    with connect(data_dir.warehouse, read_only=True) as connection:
        assert not unbuilt_deliveries(connection, NOVEMBER, DuckDBEngine(data_dir).built_deliveries(NOVEMBER))


def test_a_rejected_delivery_fails_the_run_with_its_report_and_quarantines_the_file(data_dir):
    month_file = data_dir.inbox / "20201001.csv"
    month_file.write_bytes(month_file.read_bytes().replace(b"Cash loans", b"Cr\xe9dit", 1))
    result = materialise_allowing_failure(data_dir, "2020-10-01")
    assert not result.success
    [failure] = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert "20201001.csv was rejected and moved to quarantine" in failure.event_specific_data.error.to_string()
    metadata = failure.event_specific_data.user_failure_data.metadata
    assert "encoding" in metadata["problems"].value and metadata["report"].value.endswith(".report.json")
    assert not month_file.exists() and len(list(data_dir.quarantine.glob("*20201001.csv"))) == 1


def test_a_failing_dbt_test_fails_the_month_before_it_scores_or_publishes(october_run, tmp_path):
    """An error-severity dbt test that fails stops the month: no scores, no outbox file, the check shown failed."""
    data_dir = copy_of(october_run.paths, tmp_path / "data")
    features_model = "model.credit_default.fct_application_features"
    with connect(data_dir.warehouse) as connection:
        # A second row for one application of the history: `unique` on the raw applications fails.
        connection.execute(
            "insert into raw.applications select * from raw.applications"
            " where delivery_file = 'initial.csv' order by sk_id_curr limit 1"
        )
        # And the mart's definition changed since its last build: this build is to be whole.
        record_definitions(connection, {features_model: "an older definition"}, datetime(2020, 12, 1))
    result = materialise_allowing_failure(data_dir, partition_key(NOVEMBER))
    assert not result.success
    failed = {event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"}
    started = {event.step_key for event in result.all_events if event.event_type_value == "STEP_START"}
    assert failed == {"credit_dbt_models"}
    assert not {"monthly_predictions", "monthly_outbox", "bi_serving"} & started, "nothing scored or published"
    assert predictions(data_dir, NOVEMBER) == []
    assert not (data_dir.outbox / "pred_20201101.csv").exists()
    checks = {
        evaluation.check_name: evaluation
        for evaluation in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }
    unique = checks["source_unique_raw_applications_sk_id_curr"]
    assert unique.passed is False and unique.severity == dg.AssetCheckSeverity.ERROR
    with connect(data_dir.warehouse, read_only=True) as connection:
        assert features_model not in recorded_definitions(connection), (
            "a failed whole build leaves no record that a rollback could match: the next build is whole too"
        )


def test_part_of_the_whole_pipeline_that_leaves_the_model_out_scores_only_with_a_model_trained_ahead(
    october_run, tmp_path
):
    """As the schedule runs a month whose model was trained ahead: here November's never was, so it fails."""
    data_dir = copy_of(october_run.paths, tmp_path / "data")
    without_training = defs.resolve_job_def(SCORE_MONTH).asset_layer.selected_asset_keys
    with dagster_instance(data_dir) as instance:
        result = defs.resolve_job_def(MONTHLY_PIPELINE).execute_in_process(
            partition_key=partition_key(NOVEMBER),
            instance=instance,
            run_config=data_directory_config(data_dir),
            asset_selection=sorted(without_training),
            raise_on_error=False,
        )
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert [event.step_key for event in failures] == ["monthly_predictions"]
    assert "2020-11 has no model trained ahead" in failures[0].event_specific_data.error.message
    assert predictions(data_dir, NOVEMBER) == []
