"""Operation as deployed: `dagster dev` (webserver, daemon) on a data directory, driven via its inbox and GraphQL API.

One server for the module, started the way `make ui` starts it, on a copy of a data directory
where October is published and November's model was trained ahead (the shared fixture). Dropping
November's file into the inbox must give exactly one successful run, which trains nothing, its
outbox file and its notification, then December's model trained ahead by the daemon before
December's file exists, with the budget November's model was given; a bad file only a rejection;
an online decision logged before is loaded by the month's run. Then the month's BI copy is
launched again through GraphQL, as the launchpad does, and must succeed. (The sensor's order and
once-only rules over many months, and a first month that trains its model, are tested in
process: tests/assets/test_sensors.py and test_month_order.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from assets.dagster_instance import INSTANCE_CONFIG
from assets.dbt_project import SETUP_TARGET
from assets.record_names import MODEL_CONFIG_CARRIED_TAG, MODEL_CONFIG_FROM_TAG
from assets.sensors import CLI_SOURCE_TAG
from ml.model_store import latest_card
from tests.system.conftest import QUICK_MODEL_CONFIG, copy_of, free_port
from warehouse.database import connect
from warehouse.online.decision_log import DecisionLog, online_decisions
from warehouse.paths import PROJECT_ROOT
from warehouse.publishing.notifications import read_notifications

ONLINE_DECISION = {
    "request_sha256": "0" * 64,
    "decided_at": "2020-11-20T10:00:00+00:00",
    "sk_id_curr": 9_999_002,
    "model_version": "2020-10.online",
    "default_probability": 0.05,
    "risk_grade": "B",
    "decision": "approve",
    "reason_codes": ["ext_source_3"],
    "reasons": ["External score 3: 0.10"],
    "application": {"SK_ID_CURR": 9_999_002},
}
# November's model is ready in the fixture; December's is trained by the daemon, with November's model config.
MONTH, NEXT_MONTH = "2020-11-01", "2020-12-01"
STARTUP_SECONDS = 180
RUNS_SECONDS = 900


class Server:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"query": text, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


def _wait_until(condition, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)  # GraphQL answers in milliseconds: looking often costs nothing
    pytest.fail(f"timed out waiting for {what}; dagster dev log:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def dagster_dev(november_model, tmp_path_factory):
    paths = copy_of(november_model.paths, tmp_path_factory.mktemp("operations") / "data")
    for waiting in paths.inbox.glob("20*.csv"):
        if waiting.name >= "20201101.csv":
            waiting.unlink()  # November is delivered by the test; later months never
    shutil.copyfile(INSTANCE_CONFIG, paths.dagster_home / "dagster.yaml")
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "CREDIT_DATA_DIR": str(paths.root),
        "DAGSTER_HOME": str(paths.dagster_home),
        "CREDIT_INBOX_POLL_SECONDS": "2",
        "CREDIT_RUN_STATUS_POLL_SECONDS": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = paths.root / "dagster_dev.log"
    setup_manifest = (SETUP_TARGET / "manifest.json").stat().st_mtime_ns
    with open(log, "w") as output:
        process = subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(port)

    def loaded():
        try:
            data = server.query("{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name } } } }")
        except OSError:
            return None
        return data["repositoriesOrError"].get("nodes")

    try:
        _wait_until(loaded, STARTUP_SECONDS, "the webserver to load the code", log)
        # dagster-dbt parses the project again under `dagster dev`: into the data directory, never
        # over the checkout's manifest, which other processes read meanwhile.
        dev_manifest = paths.dbt_target / "dev" / "manifest.json"
        parsed = dev_manifest.stat().st_mtime_ns
        yield server, paths, log
        assert (SETUP_TARGET / "manifest.json").stat().st_mtime_ns == setup_manifest, "the checkout's was rewritten"
        # The runs' processes loaded the definitions too, and read the manifest the code server parsed.
        assert dev_manifest.stat().st_mtime_ns == parsed, "a run parsed the project again, with nothing edited"
    finally:
        _stop(process, log, port)


def _stop(process: subprocess.Popen, log: Path, port: int) -> None:
    """Ctrl-C, as an operator stops it; once the daemon has stopped and the webserver is gone, end what is left.

    The webserver stops listening at once, but its process can take the whole minute `dagster
    dev` waits for it before saying "Dagster services shut down."; the tests have waited for
    their runs to finish, so nothing is running by then, and the test does not wait for it.
    """
    os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        said = log.read_text(errors="replace")
        if "Dagster services shut down." in said or ("Daemon threads shut down." in said and not _listening(port)):
            break
        time.sleep(0.5)
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


REPOSITORY_QUERY = """
{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        jobs { name }
        sensors { name sensorState { status } }
        schedules { name scheduleState { status } }
        assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
      }
    }
  }
}
"""

RUNS_QUERY = """
{
  runsOrError {
    ... on Runs { results { runId status jobName tags { key value } } }
  }
}
"""


def _runs(server: Server) -> list[dict]:
    """The runs the server made: not the fixture's, which `credit run` and `credit train` made in process."""
    runs = []
    for run in server.query(RUNS_QUERY)["runsOrError"]["results"]:
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        if tags.get(CLI_SOURCE_TAG[0]) != CLI_SOURCE_TAG[1]:
            runs.append({**run, "partition": tags.get("dagster/partition")})
    return runs


TICKS_QUERY = """
query($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { ... on Sensor { sensorState { ticks(limit: 5) { timestamp status } } } }
}
"""


def _repository_selector(server: Server) -> dict:
    """The code location and repository, as GraphQL selectors name them."""
    [repository] = server.query(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"]
    return {"repositoryLocationName": repository["location"]["name"], "repositoryName": repository["name"]}


def _ticked_since(server: Server, repository: dict, sensor: str, since: float) -> bool:
    """Whether `sensor` has finished a tick begun since `since`: a run it wrongly requested would exist by now.

    A tick is recorded before its runs are, so only a finished one (skipped or with runs) counts.
    """
    selector = {**repository, "sensorName": sensor}
    ticks = server.query(TICKS_QUERY, {"selector": selector})["sensorOrError"]["sensorState"]["ticks"]
    return any(tick["timestamp"] > since and tick["status"] in ("SKIPPED", "SUCCESS") for tick in ticks)


def test_the_webserver_loads_the_assets_checks_sensors_and_schedule(dagster_dev):
    server, _, _ = dagster_dev
    [repository] = server.query(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"]
    assets = {"/".join(node["assetKey"]["path"]) for node in repository["assetNodes"]}
    assert {"raw_applications", "marts/fct_application_features", "credit_default_model", "monthly_outbox"} <= assets
    checks = [
        check["name"] for node in repository["assetNodes"] for check in node["assetChecksOrError"].get("checks", [])
    ]
    assert any(name.startswith("unique_fct_application_features_sk_id_curr") for name in checks)
    sensors = {sensor["name"]: sensor["sensorState"]["status"] for sensor in repository["sensors"]}
    assert sensors == {
        "inbox_sensor": "RUNNING",
        "notify_on_success": "RUNNING",
        "notify_on_failure": "RUNNING",
        "train_next_month": "RUNNING",
    }
    assert [(s["name"], s["scheduleState"]["status"]) for s in repository["schedules"]] == [
        ("monthly_schedule", "STOPPED")
    ]
    assert {"monthly_pipeline", "score_month", "train_ahead"} <= {job["name"] for job in repository["jobs"]}


def _deliver(source: Path, inbox: Path) -> None:
    """Copy under a hidden name, then rename: how a careful sender drops a file (the sensor skips dot-files)."""
    temporary = inbox / f".{source.name}.partial"
    shutil.copyfile(source, temporary)
    os.replace(temporary, inbox / source.name)


def test_a_month_file_in_the_inbox_gives_one_run_then_the_next_months_model(
    dagster_dev, november_model, deliveries_dir
):
    server, paths, log = dagster_dev
    notified_before = len(read_notifications(paths))
    # An online decision made before the month's file arrives: the month's run loads the decision log.
    DecisionLog(paths.decisions).append([ONLINE_DECISION])
    bad = paths.root / "20210201.csv"
    bad.write_text("SK_ID_CURR,TARGET\n1,maybe\n")
    for source in [deliveries_dir / "20201101.csv", bad]:
        _deliver(source, paths.inbox)
    settled = time.time() - 60
    for path in sorted(paths.inbox.glob("*.csv")):
        os.utime(path, (settled, settled))

    def new_notifications() -> list[dict]:
        return read_notifications(paths)[notified_before:]

    def all_finished():
        done = [run for run in _runs(server) if run["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        notes = [n for n in new_notifications() if n["event"].startswith("run_")]
        # The month's run, then the next month's model trained ahead, each notified.
        return done if len(done) >= 2 and len(notes) >= 2 else None

    _wait_until(all_finished, RUNS_SECONDS, "a run, the next month's model and their notifications", log)
    finished_at, repository = time.time(), _repository_selector(server)
    for sensor in ("inbox_sensor", "train_next_month"):
        ticked = lambda name=sensor: _ticked_since(server, repository, name, finished_at)  # noqa: E731
        _wait_until(ticked, 60, f"a later tick of {sensor}", log)
    runs = _runs(server)
    assert {run["status"] for run in runs} == {"SUCCESS"}
    month_runs = [run for run in runs if run["jobName"] != "train_ahead"]
    assert [(run["partition"], run["jobName"]) for run in month_runs] == [(MONTH, "score_month")], (
        "one run for the month file, none for the bad file; its model was trained ahead, so it trains nothing"
    )
    [training] = [run for run in runs if run["jobName"] == "train_ahead"]
    assert training["partition"] == NEXT_MONTH, "the daemon trains the next month's model, once"
    # With November's budget (the run that trained it gave one), carried to the run no person launched;
    # not its gate's tolerance, set to reject November's model.
    tags = {tag["key"]: tag["value"] for tag in training["tags"]}
    assert tags[MODEL_CONFIG_FROM_TAG] == november_model.models[date.fromisoformat(MONTH)]
    assert tags[MODEL_CONFIG_CARRIED_TAG].endswith("not carried: promotion_tolerance")
    december = latest_card(paths.models, date.fromisoformat(NEXT_MONTH)).training_config
    assert {name: december[name] for name in QUICK_MODEL_CONFIG} == QUICK_MODEL_CONFIG
    assert sorted(path.name for path in paths.outbox.glob("pred_*.csv")) == ["pred_20201001.csv", "pred_20201101.csv"]

    notifications = new_notifications()
    succeeded = sorted(n["text"].split(":")[0] for n in notifications if n["event"] == "run_succeeded")
    assert succeeded == ["credit 2020-11", "credit 2020-12 model"]
    assert {n["run_id"] for n in notifications if n["event"] == "run_succeeded"} == {run["runId"] for run in runs}
    [rejected] = [n for n in notifications if n["event"] == "delivery_rejected"]
    assert rejected["text"].startswith("20210201.csv") and "TARGET" in rejected["details"]["problems"]
    assert not (paths.inbox / "20210201.csv").exists()
    with connect(paths.warehouse, read_only=True) as connection:
        [decision] = online_decisions(connection, ONLINE_DECISION["sk_id_curr"])
    assert decision["model_version"] == ONLINE_DECISION["model_version"]


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


def test_a_month_launched_through_graphql_succeeds(dagster_dev):
    """What the UI's launchpad sends (GraphQL launchRun) starts a run of the month, which succeeds."""
    server, paths, log = dagster_dev
    # The month's BI copy alone, as "Materialize selected" launches it: the launchRun path, without
    # a second whole month (the sensor's run above launched the whole job through the daemon).
    params = {
        "selector": {
            **_repository_selector(server),
            "jobName": "score_month",
            "assetSelection": [{"path": ["bi_serving"]}],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": MONTH}]},
    }
    launched = server.query(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def finished():
        status = server.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id})
        state = status["runOrError"]["status"]
        return state if state in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert _wait_until(finished, RUNS_SECONDS, "the launched run", log) == "SUCCESS"
