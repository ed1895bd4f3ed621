"""Which job a month's run takes: score_month once its model was trained ahead, else the whole pipeline."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.asset_keys import CREDIT_DEFAULT_MODEL
from assets.model_readiness import month_job_name, ready_model
from assets.record_names import MONTHLY_PIPELINE, PARTITION_TAG, SCORE_MONTH, TRAIN_AHEAD
from ml.model_store import CARD_FILE
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
