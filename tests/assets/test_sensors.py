"""The inbox sensor, the monthly schedule and notifications, evaluated by Dagster against real files."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from assets.asset_keys import CREDIT_DEFAULT_MODEL
from assets.definitions import defs
from assets.record_names import MONTHLY_PIPELINE, PARTITION_TAG, SCORE_MONTH, TRAIN_AHEAD
from assets.resources import WarehouseResource
from assets.schedules import monthly_schedule
from assets.sensors import CLI_SOURCE_TAG, SETTLE_SECONDS, inbox_sensor, train_next_month
from ml.model_store import CARD_FILE
from warehouse.ingestion.loader import check_file
from warehouse.paths import DataPaths
from warehouse.publishing.notifications import (
    WEBHOOK_URL_VARIABLE,
    Notification,
    notify,
    read_notifications,
    webhook_url_from_env,
)

MONTH_FILES = ["20201001.csv", "20201101.csv", "20201201.csv", "20210101.csv"]


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (the name http.server calls)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    monkeypatch.setenv(WEBHOOK_URL_VARIABLE, url)
    yield _Receiver.received
    server.shutdown()


def age(path, seconds: float = SETTLE_SECONDS + 5) -> None:
    """Make a file look as if it finished arriving `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def evaluate(paths, instance, cursor: str | None = None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource(data_dir=str(paths.root))}
    )
    result = inbox_sensor(context)
    requests = result if isinstance(result, list) else []
    return requests, context.cursor


def test_a_notification_is_logged_and_posted_and_a_dead_webhook_only_notes_it(tmp_path, webhook, monkeypatch):
    paths = DataPaths(tmp_path)
    sent = Notification("run_succeeded", "credit 2020-10: run abc succeeded", "2020-10", "abc", {"status": "SUCCESS"})
    notify(paths, sent, webhook_url_from_env())
    [posted] = webhook
    assert posted["text"] == sent.text and posted["month"] == "2020-10" and posted["event"] == "run_succeeded"
    [logged] = read_notifications(paths)
    assert logged["webhook"] == "delivered (HTTP 204)" and logged["details"] == {"status": "SUCCESS"}

    monkeypatch.setenv(WEBHOOK_URL_VARIABLE, "http://127.0.0.1:9/nobody-listens")
    record = notify(paths, sent, webhook_url_from_env())
    assert record["webhook"].startswith("failed:")
    assert len(read_notifications(paths)) == 2, "the log keeps the message when the webhook is down"

    monkeypatch.setenv(WEBHOOK_URL_VARIABLE, "file:///etc/passwd")
    with pytest.raises(ValueError, match="http"):
        webhook_url_from_env()


def test_check_file_judges_the_file_alone(deliveries_dir, tmp_path):
    assert not check_file(deliveries_dir / "20201101.csv").rejected
    broken = tmp_path / "20201101.csv"
    text = (deliveries_dir / "20201101.csv").read_text().splitlines()
    fields = text[1].split(",")
    fields[text[0].split(",").index("AMT_INCOME_TOTAL")] = "lots"
    broken.write_text("\n".join([text[0], ",".join(fields), *text[2:]]) + "\n")
    report = check_file(broken)
    assert report.rejected and "AMT_INCOME_TOTAL" in report.summary()
    misnamed = tmp_path / "2020-11.csv"
    shutil.copy(deliveries_dir / "20201101.csv", misnamed)
    assert check_file(misnamed).rejected


def test_the_sensor_starts_each_new_month_once_in_order_and_quarantines_a_bad_file(data_dir, webhook):
    with dg.instance_for_test() as instance:
        bad = data_dir.inbox / "20210201.csv"
        bad.write_text("SK_ID_CURR,TARGET\n1,maybe\n")
        fresh = data_dir.inbox / "20201201.csv"
        for path in data_dir.inbox.glob("*.csv"):
            if path != fresh:
                age(path)

        requests, cursor = evaluate(data_dir, instance)
        # 2021-01 waits for 2020-12, whose file is still arriving: a month never starts before the months before it.
        assert [request.partition_key for request in requests] == ["2020-10-01", "2020-11-01"]
        assert all(request.job_name == "monthly_pipeline" for request in requests), "no model yet: each trains first"
        assert not bad.exists() and len(list(data_dir.quarantine.glob("*20210201.csv.report.json"))) == 1
        events = [(n["event"], n["text"].split()[0]) for n in read_notifications(data_dir)]
        assert ("delivery_rejected", "20210201.csv") in events
        assert ("delivery_accepted", "initial.csv") in events
        assert [p["event"] for p in webhook].count("delivery_rejected") == 1

        assert evaluate(data_dir, instance, cursor)[0] == [], "a file seen once starts nothing again"
        for month in ("2020-10-01", "2020-11-01"):  # the runs requested above load their months
            instance.report_runless_asset_event(dg.AssetMaterialization("raw_applications", partition=month))
        age(fresh)
        requests, cursor = evaluate(data_dir, instance, cursor)
        assert [request.partition_key for request in requests] == ["2020-12-01", "2021-01-01"], (
            "a settled file is picked up"
        )

        # The run key is the file's content: a lost cursor re-requests the same keys, which Dagster
        # runs at most once; a corrected file is a new delivery and a new key.
        again, _ = evaluate(data_dir, instance, None)
        first_keys = {request.partition_key: request.run_key for request in again}
        replaced = data_dir.inbox / "20201101.csv"
        replaced.write_text(replaced.read_text().replace("Cash loans", "Revolving loans", 1))
        age(replaced)
        [corrected] = evaluate(data_dir, instance, cursor)[0]
        assert corrected.partition_key == "2020-11-01" and corrected.run_key != first_keys["2020-11-01"]


def test_the_schedule_runs_last_month_unless_it_is_published(tmp_path):
    paths = DataPaths(tmp_path / "data").create()
    with dg.instance_for_test() as instance:

        def evaluate_at(when: datetime):
            context = dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=when,
                resources={"warehouse": WarehouseResource(data_dir=str(paths.root))},
                repository_def=defs.get_repository_def(),
            )
            return monthly_schedule(context)

        request = evaluate_at(datetime(2021, 2, 2, 6, tzinfo=UTC))
        assert isinstance(request, dg.RunRequest) and request.partition_key == "2021-01-01"
        assert request.asset_selection is None, "no model trained ahead: the whole pipeline, which trains it first"
        version = "2021-01.0123456789"
        instance.report_runless_asset_event(
            dg.AssetMaterialization(CREDIT_DEFAULT_MODEL, partition="2021-01-01", metadata={"model_version": version})
        )
        (paths.models / version).mkdir(parents=True)
        (paths.models / version / CARD_FILE).write_text("{}")
        trained_ahead = evaluate_at(datetime(2021, 2, 2, 6, tzinfo=UTC)).asset_selection
        assert set(trained_ahead) == defs.resolve_job_def(SCORE_MONTH).asset_layer.selected_asset_keys, (
            "trained ahead: the month's run trains nothing, as when its file lands"
        )
        assert isinstance(evaluate_at(datetime(2020, 10, 2, 6, tzinfo=UTC)), dg.SkipReason)
        instance.report_runless_asset_event(dg.AssetMaterialization("monthly_outbox", partition="2021-01-01"))
        assert isinstance(evaluate_at(datetime(2021, 2, 2, 6, tzinfo=UTC)), dg.SkipReason)


def test_a_month_run_that_succeeds_queues_the_next_months_model_once():
    event = dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, job_name=MONTHLY_PIPELINE)
    with dg.instance_for_test() as instance:

        def evaluate(job: str, tags: dict):
            run = instance.add_run(dg.DagsterRun(job_name=job, status=dg.DagsterRunStatus.SUCCESS, tags=tags))
            context = dg.build_run_status_sensor_context(
                sensor_name=train_next_month.name, dagster_event=event, dagster_instance=instance, dagster_run=run
            )
            return run, train_next_month(context)

        october, request = evaluate(MONTHLY_PIPELINE, {PARTITION_TAG: "2020-10-01"})
        assert isinstance(request, dg.RunRequest) and request.partition_key == "2020-11-01"
        assert october.run_id in request.run_key, "one training per finished month run: Dagster runs a key once"
        context = dg.build_run_status_sensor_context(
            sensor_name=train_next_month.name, dagster_event=event, dagster_instance=instance, dagster_run=october
        )
        assert train_next_month(context).run_key == request.run_key, "a second tick asks for the same run"
        _, december = evaluate(SCORE_MONTH, {PARTITION_TAG: "2020-12-01"})
        assert december.partition_key == "2021-01-01"
        _, from_the_cli = evaluate(
            MONTHLY_PIPELINE, {PARTITION_TAG: "2020-10-01", CLI_SOURCE_TAG[0]: CLI_SOURCE_TAG[1]}
        )
        assert isinstance(from_the_cli, dg.SkipReason), "`credit run` trains the next month ahead itself"
    assert train_next_month.job_name == TRAIN_AHEAD


def test_the_definitions_hold_the_automation():
    assert {sensor.name for sensor in defs.sensors} == {
        "inbox_sensor",
        "notify_on_success",
        "notify_on_failure",
        "train_next_month",
    }
    assert [schedule.name for schedule in defs.schedules] == ["monthly_schedule"]
    policy = defs.resolve_job_def("monthly_pipeline").op_retry_policy
    assert policy is not None and policy.max_retries >= 1
