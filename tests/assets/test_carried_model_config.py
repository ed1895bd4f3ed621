"""Runs that train carry the budget and seed of the latest model's run, never its gate or protected attributes."""

import os
import time
from datetime import UTC, date, datetime

import dagster as dg

from assets.asset_keys import CREDIT_DEFAULT_MODEL
from assets.carried_model_config import carried_model_config
from assets.definitions import defs
from assets.model_training import ModelConfig
from assets.partitions import monthly_partitions
from assets.record_names import MODEL_CONFIG_CARRIED_TAG as CARRIED_TAG
from assets.record_names import MODEL_CONFIG_FROM_TAG as CONFIG_FROM_TAG
from assets.record_names import MONTHLY_PIPELINE, PARTITION_TAG, TRAIN_AHEAD
from assets.resources import WarehouseResource
from assets.schedules import monthly_schedule
from assets.sensors import SETTLE_SECONDS, inbox_sensor, train_next_month
from warehouse.paths import DataPaths


# No `from __future__ import annotations` here: Dagster reads the asset's config class from its annotation.
class OlderModelConfig(ModelConfig):
    """The config as an older release had it: with a field this code no longer knows."""

    retired_option: int = 0


@dg.asset(key=CREDIT_DEFAULT_MODEL, partitions_def=monthly_partitions)
def model_of_an_earlier_release(config: OlderModelConfig) -> None:
    """Stands in for the model's asset, only to record a run of it with its config: what the sensors read."""


def _train(instance: dg.DagsterInstance, month: str, config: dict) -> str:
    result = dg.materialize(
        [model_of_an_earlier_release],
        instance=instance,
        partition_key=month,
        run_config={"ops": {"credit_default_model": {"config": config}}},
    )
    return result.run_id


def _month_succeeded(instance: dg.DagsterInstance, month: str) -> dg.RunRequest:
    run = instance.add_run(
        dg.DagsterRun(job_name=MONTHLY_PIPELINE, status=dg.DagsterRunStatus.SUCCESS, tags={PARTITION_TAG: month})
    )
    event = dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, job_name=MONTHLY_PIPELINE)
    context = dg.build_run_status_sensor_context(
        sensor_name=train_next_month.name, dagster_event=event, dagster_instance=instance, dagster_run=run
    )
    return train_next_month(context)


def test_the_next_months_model_is_trained_with_the_budget_and_seed_of_the_latest_model():
    with dg.instance_for_test() as instance:
        untouched = _month_succeeded(instance, "2020-10-01")
        assert untouched.run_config == {} and CONFIG_FROM_TAG not in untouched.tags, "no model yet: the defaults"

        given = {"n_trials": 3, "tuning_rows": 5_000, "promotion_tolerance": 1.0, "retired_option": 7}
        october = _train(instance, "2020-10-01", given)
        december = _train(instance, "2020-12-01", {"n_trials": 30, "protected_attributes": ["CODE_GENDER"]})
        request = _month_succeeded(instance, "2020-10-01")
        assert request.partition_key == "2020-11-01"
        # Not the gate's tolerance (governance, never carried), nor a field this code lacks; not December's,
        # a later month's.
        assert request.run_config == {
            "ops": {"credit_default_model": {"config": {"n_trials": 3, "tuning_rows": 5_000}}}
        }
        assert request.tags[CONFIG_FROM_TAG] == october
        assert request.tags[CARRIED_TAG].endswith("not carried: promotion_tolerance, retired_option")
        assert dg.validate_run_config(defs.resolve_job_def(TRAIN_AHEAD), request.run_config)

        later = _month_succeeded(instance, "2020-12-01")
        assert later.tags[CONFIG_FROM_TAG] == december, "the latest model up to the month"
        assert later.run_config["ops"]["credit_default_model"]["config"] == {"n_trials": 30}, (
            "the protected attributes come from the policy of the day, never from an earlier run"
        )


def test_a_config_this_code_refuses_is_not_carried_and_the_run_says_so():
    with dg.instance_for_test() as instance:
        refused = _train(instance, "2020-10-01", {"n_trials": 3, "tuning_rows": 500})  # an older release allowed it
        request = _month_succeeded(instance, "2020-10-01")
    assert request.run_config == {}, "the defaults: a carried config must not fail every run the daemon starts"
    assert request.tags[CONFIG_FROM_TAG] == refused
    assert request.tags[CARRIED_TAG].startswith("defaults: n_trials=3, tuning_rows=500 from 2020-10's model is refused")


def test_a_model_recorded_without_a_run_leaves_it_to_an_earlier_months_run():
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(CREDIT_DEFAULT_MODEL, partition="2020-11-01"))
        carried = carried_model_config(instance, date(2020, 11, 1))
        assert carried.config == {} and carried.run_config() == {} and carried.tags() == {}
        october = _train(instance, "2020-10-01", {"seed": 9})
        carried = carried_model_config(instance, date(2020, 11, 1))
    assert carried.config == {"seed": 9} and carried.from_run == october


def test_the_schedule_trains_a_month_with_the_latest_models_config(tmp_path):
    paths = DataPaths(tmp_path / "data").create()
    with dg.instance_for_test() as instance:
        trained = _train(instance, "2020-12-01", {"n_trials": 4})
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2021, 2, 2, 6, tzinfo=UTC),
            resources={"warehouse": WarehouseResource(data_dir=str(paths.root))},
            repository_def=defs.get_repository_def(),
        )
        request = monthly_schedule(context)
    assert request.partition_key == "2021-01-01" and request.asset_selection is None, "no model ahead: trains it"
    assert request.run_config == {"ops": {"credit_default_model": {"config": {"n_trials": 4}}}}
    assert request.tags[CONFIG_FROM_TAG] == trained
    assert dg.validate_run_config(defs.resolve_job_def(MONTHLY_PIPELINE), request.run_config)


def test_a_month_file_whose_model_is_not_ready_trains_it_with_the_latest_models_config(data_dir):
    with dg.instance_for_test() as instance:
        trained = _train(instance, "2020-10-01", {"tuning_rows": 6_000})
        for path in data_dir.inbox.glob("*.csv"):
            then = time.time() - SETTLE_SECONDS - 5
            os.utime(path, (then, then))
        context = dg.build_sensor_context(
            instance=instance, resources={"warehouse": WarehouseResource(data_dir=str(data_dir.root))}
        )
        requests = inbox_sensor(context)
    [october] = [request for request in requests if request.partition_key == "2020-10-01"]
    assert october.job_name == MONTHLY_PIPELINE, "a model recorded without its files is not ready: trained first"
    assert october.run_config == {"ops": {"credit_default_model": {"config": {"tuning_rows": 6_000}}}}
    assert october.tags[CONFIG_FROM_TAG] == trained
