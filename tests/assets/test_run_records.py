"""`assets/run_records.py` reads Dagster's SQLite files directly; these tests pin it against Dagster's own API.

Tiny assets keyed like the real ones record runs and materialisations in a real instance configured
as the data directory's; if a Dagster upgrade changes what the files hold, the reader's answers stop
matching `instance.get_runs()` and `instance.get_latest_storage_id_by_partition()` here.
"""

from __future__ import annotations

import dagster as dg
import yaml
from dagster._core.storage.tags import PARTITION_NAME_TAG

from assets import run_records
from assets.asset_keys import CREDIT_DEFAULT_MODEL, MONTHLY_OUTBOX, RAW_APPLICATIONS, RAW_OUTCOMES
from assets.dagster_instance import INSTANCE_CONFIG, dagster_instance
from assets.partitions import monthly_partitions
from assets.record_names import PARTITION_TAG, TRAIN_AHEAD
from assets.run_records import MonthState, RunRecord, month_states
from warehouse.paths import DataPaths

OCTOBER, NOVEMBER, DECEMBER, JANUARY, FEBRUARY = "2020-10-01", "2020-11-01", "2020-12-01", "2021-01-01", "2021-02-01"
MARCH, APRIL = "2021-03-01", "2021-04-01"


@dg.asset(key=RAW_APPLICATIONS, partitions_def=monthly_partitions)
def raw_applications() -> None:
    pass


@dg.asset(key=RAW_OUTCOMES, partitions_def=monthly_partitions)
def raw_outcomes() -> None:
    pass


@dg.asset(key=MONTHLY_OUTBOX, partitions_def=monthly_partitions, deps=[RAW_APPLICATIONS, RAW_OUTCOMES])
def monthly_outbox(context) -> None:  # the month's last step, as in the real graph
    if context.partition_key == DECEMBER:
        raise RuntimeError("December's outbox fails")


@dg.asset
def unpartitioned() -> None:
    pass


MONTH = [raw_applications, raw_outcomes, monthly_outbox]


def _record_months(instance: dg.DagsterInstance) -> dict[str, str]:
    """October published, November stale, December failed, January running, February loaded only."""
    run_ids = {}
    for month in (OCTOBER, NOVEMBER):
        run_ids[month] = dg.materialize(MONTH, partition_key=month, instance=instance).run_id
    # A correction of November loaded after November was published, by a run and by `credit load`.
    run_ids[NOVEMBER] = dg.materialize([raw_applications], partition_key=NOVEMBER, instance=instance).run_id
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_APPLICATIONS, partition=NOVEMBER))
    failed = dg.materialize(MONTH, partition_key=DECEMBER, instance=instance, raise_on_error=False)
    assert not failed.success
    run_ids[DECEMBER] = failed.run_id
    dg.materialize([unpartitioned], instance=instance)  # a run without a month
    running = dg.DagsterRun(job_name="month", status=dg.DagsterRunStatus.STARTED, tags={PARTITION_TAG: JANUARY})
    run_ids[JANUARY] = instance.add_run(running).run_id
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_APPLICATIONS, partition=JANUARY))
    # Outcomes wiped: only what is recorded after the wipe counts.
    instance.wipe_assets([RAW_OUTCOMES])
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_OUTCOMES, partition=FEBRUARY))
    # March's model trained ahead, its file not there yet; April's being trained.
    trained = dg.DagsterRun(job_name=TRAIN_AHEAD, status=dg.DagsterRunStatus.SUCCESS, tags={PARTITION_TAG: MARCH})
    run_ids[MARCH] = instance.add_run(trained).run_id
    instance.report_runless_asset_event(dg.AssetMaterialization(CREDIT_DEFAULT_MODEL, partition=MARCH))
    training = dg.DagsterRun(job_name=TRAIN_AHEAD, status=dg.DagsterRunStatus.STARTED, tags={PARTITION_TAG: APRIL})
    run_ids[APRIL] = instance.add_run(training).run_id
    return run_ids


def test_the_direct_reader_answers_as_dagster_does(tmp_path):
    paths = DataPaths(tmp_path / "data")
    with dagster_instance(paths) as instance:  # the project's dagster.yaml, as `credit run` configures it
        run_ids = _record_months(instance)
        runs = [
            RunRecord(run.run_id, run.status.value, run.tags.get(PARTITION_TAG), run.job_name)
            for run in instance.get_runs()
        ]
        latest = {
            key.to_string(): dict(
                instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION)
            )
            for key in (RAW_APPLICATIONS, RAW_OUTCOMES, MONTHLY_OUTBOX, CREDIT_DEFAULT_MODEL)
        }

    assert run_records.runs_newest_first(paths.dagster_home) == runs
    assert {run.status for run in runs} == {"SUCCESS", "FAILURE", "STARTED"}
    assert sum(run.partition is None for run in runs) == 1
    for key, by_partition in latest.items():
        assert run_records.latest_materializations(paths.dagster_home, key) == by_partition, key
    assert set(latest[RAW_OUTCOMES.to_string()]) == {FEBRUARY}, "events before the wipe no longer count"
    assert set(latest[RAW_APPLICATIONS.to_string()]) == {OCTOBER, NOVEMBER, DECEMBER, JANUARY}

    assert month_states(paths) == [
        MonthState("2020-10", "published", run_ids[OCTOBER]),
        MonthState("2020-11", "stale", run_ids[NOVEMBER]),
        MonthState("2020-12", "failed", run_ids[DECEMBER]),
        MonthState("2021-01", "running", run_ids[JANUARY]),
        MonthState("2021-02", "not run", None),
        MonthState("2021-03", "model ready, waiting for its file", run_ids[MARCH]),
        MonthState("2021-04", "training", run_ids[APRIL]),
    ]


def test_the_reader_names_keys_tags_and_statuses_as_dagster_does():
    assert run_records.RAW_APPLICATIONS == RAW_APPLICATIONS.to_string()
    assert run_records.RAW_OUTCOMES == RAW_OUTCOMES.to_string()
    assert run_records.MONTHLY_OUTBOX == MONTHLY_OUTBOX.to_string()
    assert run_records.CREDIT_DEFAULT_MODEL == CREDIT_DEFAULT_MODEL.to_string()
    assert PARTITION_NAME_TAG == PARTITION_TAG
    assert run_records.MATERIALIZATION == dg.DagsterEventType.ASSET_MATERIALIZATION.value
    running = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
    assert run_records.RUNNING_STATUSES == {status.value for status in running}
    assert run_records.FAILURE == dg.DagsterRunStatus.FAILURE.value


def test_the_instance_keeps_dagsters_default_sqlite_storage_where_the_reader_looks():
    """A `storage:` section in assets/dagster.yaml would move the records away from the files the reader opens."""
    config = yaml.safe_load(INSTANCE_CONFIG.read_text(encoding="utf-8"))
    assert not {"storage", "run_storage", "event_log_storage"} & set(config)


def test_a_dagster_home_without_storage_has_no_months_and_stays_untouched(tmp_path):
    paths = DataPaths(tmp_path / "data")
    assert month_states(paths) == []
    assert not paths.root.exists()
    with dagster_instance(paths):  # storage created, nothing recorded yet
        pass
    assert month_states(paths) == []
