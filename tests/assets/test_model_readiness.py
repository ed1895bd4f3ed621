"""Which job a month's run takes: score_month once its model was trained ahead, else the whole pipeline."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.asset_keys import CREDIT_DEFAULT_MODEL, RAW_APPLICATIONS, TRAINING_SET
from assets.model_readiness import month_job_name, ready_model, trained_ahead_problem
from assets.record_names import MONTHLY_PIPELINE, PARTITION_TAG, SCORE_MONTH, TRAIN_AHEAD
from ml.model_store import CARD_FILE
from warehouse.database import connect
from warehouse.ingestion.ledger import inputs_version, training_inputs
from warehouse.paths import DataPaths

NOVEMBER, DECEMBER = date(2020, 11, 1), date(2020, 12, 1)
VERSION = "2020-11.0123456789"


def _record_model(instance: dg.DagsterInstance, version: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(CREDIT_DEFAULT_MODEL, partition="2020-11-01", metadata={"model_version": version})
    )


def test_a_month_whose_model_is_materialised_and_stored_only_scores(tmp_path):
    paths = DataPaths(tmp_path / "data").create()
    with dg.instance_for_test() as instance:
        assert month_job_name(instance, paths, NOVEMBER) == MONTHLY_PIPELINE, "no model: the run trains it first"
        _record_model(instance, VERSION)
        assert month_job_name(instance, paths, NOVEMBER) == MONTHLY_PIPELINE, "recorded, but its files are gone"
        (paths.models / VERSION).mkdir(parents=True)
        (paths.models / VERSION / CARD_FILE).write_text("{}")
        assert ready_model(instance, paths, NOVEMBER) == VERSION
        assert month_job_name(instance, paths, NOVEMBER) == SCORE_MONTH
        assert month_job_name(instance, paths, DECEMBER) == MONTHLY_PIPELINE, "another month's model does not count"
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_APPLICATIONS, partition="2020-11-01"))
        assert month_job_name(instance, paths, NOVEMBER) == SCORE_MONTH, "its own file does not feed its model"
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_APPLICATIONS, partition="2020-10-01"))
        assert month_job_name(instance, paths, NOVEMBER) == MONTHLY_PIPELINE, "October corrected since: train again"
        _record_model(instance, VERSION)
        assert month_job_name(instance, paths, NOVEMBER) == SCORE_MONTH
        _record_model(instance, "../../etc")
        assert ready_model(instance, paths, NOVEMBER) is None, "a version that is not one is never a path"


def test_a_month_whose_model_is_being_trained_ahead_waits_for_it_rather_than_training_again(tmp_path):
    paths = DataPaths(tmp_path / "data").create()
    with dg.instance_for_test() as instance:
        started = dg.DagsterRun(
            job_name=TRAIN_AHEAD, status=dg.DagsterRunStatus.STARTED, tags={PARTITION_TAG: "2020-12-01"}
        )
        instance.add_run(started)
        assert month_job_name(instance, paths, DECEMBER) == SCORE_MONTH
        assert month_job_name(instance, paths, NOVEMBER) == MONTHLY_PIPELINE
        failed = dg.DagsterRun(
            job_name=TRAIN_AHEAD, status=dg.DagsterRunStatus.FAILURE, tags={PARTITION_TAG: "2020-11-01"}
        )
        instance.add_run(failed)
        assert month_job_name(instance, paths, NOVEMBER) == MONTHLY_PIPELINE, "a failed training leaves no model"


def test_a_model_trained_ahead_scores_only_if_it_followed_its_training_set_on_the_deliveries_held_now(tmp_path):
    paths = DataPaths(tmp_path / "data").create()
    with dg.instance_for_test() as instance, connect(paths.warehouse) as connection:
        now = inputs_version(training_inputs(connection, NOVEMBER))

        def record(key: dg.AssetKey, **metadata) -> None:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="2020-11-01", metadata=metadata))

        assert "no model trained ahead" in trained_ahead_problem(instance, connection, NOVEMBER)
        record(TRAINING_SET, inputs_version=now)
        assert "no model trained ahead" in trained_ahead_problem(instance, connection, NOVEMBER), "training failed"
        record(CREDIT_DEFAULT_MODEL, model_version=VERSION)
        assert trained_ahead_problem(instance, connection, NOVEMBER) is None
        record(TRAINING_SET, inputs_version=now)
        assert "no model trained ahead" in trained_ahead_problem(instance, connection, NOVEMBER), "a newer set"
        record(CREDIT_DEFAULT_MODEL, model_version=VERSION)
        assert trained_ahead_problem(instance, connection, NOVEMBER) is None
        connection.execute(
            "insert into raw.load_ledger"
            " (delivery_file, kind, delivery_month, status, sha256, row_count, source_path, loaded_at)"
            " values ('outcomes_20201001.csv', 'outcomes', ?, 'loaded', 'abc', 1, 'inbox', now())",
            [date(2020, 10, 1)],
        )
        problem = trained_ahead_problem(instance, connection, NOVEMBER)
        assert "changed after its model was trained ahead" in problem and "credit train 2020-11" in problem
