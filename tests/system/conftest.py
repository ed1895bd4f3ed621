"""Months run through Dagster once per session, shared by the whole-system tests.

A month's run is the expensive step of these tests (dbt twice, a model tuned and fitted),
so October, November's model trained ahead, and November are run once each in the whole
session, each stage on a copy of the one before. Several test processes need them: the first
to ask builds a stage under a file lock, any other waits for it and reads the same folder.
So a test that writes works on its own copy of the data directory (`copy_of`), never on a
shared one, and reads a run through the Dagster instance that recorded it (`recorded_run`),
which every process can open.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from assets.dagster_instance import dagster_instance
from assets.month_runs import MonthRun, run_month, train_month_ahead
from tests.conftest import data_directory_with_deliveries, session_folder
from warehouse.atomic_files import atomic_write_text
from warehouse.paths import DataPaths

OCTOBER, NOVEMBER, DECEMBER = date(2020, 10, 1), date(2020, 11, 1), date(2020, 12, 1)
QUICK_MODEL_CONFIG = {"n_trials": 2, "tuning_rows": 8_000}


def quick_model(**config) -> dict:
    """Run config of a month whose model is tuned briefly: these tests check the flow, not the model."""
    return {"ops": {"credit_default_model": {"config": {**QUICK_MODEL_CONFIG, **config}}}}


@dataclass(frozen=True)
class RunMonths:
    paths: DataPaths
    runs: dict[date, str]  # the run id of each month's own run
    models: dict[date, str]  # the run id of each month's model trained ahead, in a run of its own

    def write(self, file: Path) -> None:
        def by_month(runs: dict[date, str]) -> dict[str, str]:
            return {month.isoformat(): run for month, run in runs.items()}

        saved = {"data": str(self.paths.root), "runs": by_month(self.runs), "models": by_month(self.models)}
        atomic_write_text(file, json.dumps(saved))  # whole or not at all: other processes read it

    @classmethod
    def read(cls, file: Path) -> RunMonths:
        def by_month(runs: dict[str, str]) -> dict[date, str]:
            return {date.fromisoformat(month): run for month, run in runs.items()}

        saved = json.loads(file.read_text(encoding="utf-8"))
        return cls(DataPaths(Path(saved["data"])), by_month(saved["runs"]), by_month(saved["models"]))


@dataclass(frozen=True)
class RecordedRun:
    """A finished run as its data directory's Dagster instance holds it, readable from any process."""

    run_id: str
    job_name: str
    steps: frozenset[str]  # the steps that succeeded
    metadata: dict[str, list[dict]]  # the metadata values of each materialisation, by asset ("marts/x")


def recorded_run(paths: DataPaths, run_id: str) -> RecordedRun:
    with dagster_instance(paths) as instance:
        job_name = instance.get_run_by_id(run_id).job_name
        events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event]
    steps = frozenset(event.step_key for event in events if event.event_type == dg.DagsterEventType.STEP_SUCCESS)
    metadata: dict[str, list[dict]] = {}
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            values = event.event_specific_data.materialization.metadata.items()
            metadata.setdefault(event.asset_key.to_user_string(), []).append({key: v.value for key, v in values})
    return RecordedRun(run_id, job_name, steps, metadata)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def copy_of(source: DataPaths, target: Path) -> DataPaths:
    """A data directory of one's own, warehouse, models and Dagster home included, to write to."""
    shutil.copytree(source.root, target)
    return DataPaths(target)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], RunMonths]) -> RunMonths:
    """The stage `name`, built into a folder by the first test process of the session that asks for it.

    The others wait on the lock (an event, not a clock) and then read what it recorded. A build
    that fails says so in the folder, and the others fail at once with its error rather than
    run the same failing month again, one after another.
    """
    folder = session_folder(tmp_path_factory) / "built_once" / name
    folder.mkdir(parents=True, exist_ok=True)
    record, failure = folder / "runs.json", folder / "failed.txt"
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process ends
        if failure.exists():
            pytest.fail(f"{name} failed in another test process:\n{failure.read_text(encoding='utf-8')}")
        if record.exists():
            return RunMonths.read(record)
        shutil.rmtree(folder / "data", ignore_errors=True)  # left by a process that died building it
        try:
            months = build(folder / "data")
        except BaseException as error:
            atomic_write_text(failure, f"{type(error).__name__}: {error}"[-5000:])
            raise
        months.write(record)
        return months


def succeeded(run: MonthRun) -> str:
    """The run's id, once it is known to have succeeded."""
    assert run.success, run.notification
    return run.result.run_id


@pytest.fixture(scope="session")
def october_run(deliveries_dir, tmp_path_factory) -> RunMonths:
    """History and every month file in the inbox; October materialised, its model trained first. Copy it to write."""

    def build(folder: Path) -> RunMonths:
        paths = data_directory_with_deliveries(deliveries_dir, folder)
        return RunMonths(paths, {OCTOBER: succeeded(run_month(OCTOBER, paths, quick_model()))}, {})

    return built_once(tmp_path_factory, "october_run", build)


@pytest.fixture(scope="session")
def november_model(october_run, tmp_path_factory) -> RunMonths:
    """October; then November's model trained ahead, which must beat October's by a whole unit of AUC.

    So November's model is rejected, and October's will score November; November's file waits in the inbox.
    """

    def build(folder: Path) -> RunMonths:
        paths = copy_of(october_run.paths, folder)
        model = train_month_ahead(NOVEMBER, paths, quick_model(promotion_tolerance=-1.0))
        return RunMonths(paths, dict(october_run.runs), {NOVEMBER: succeeded(model)})

    return built_once(tmp_path_factory, "november_model", build)


@pytest.fixture(scope="session")
def two_months_run(november_model, tmp_path_factory) -> RunMonths:
    """October, November's model trained ahead (and rejected), then November. Copy it before writing."""

    def build(folder: Path) -> RunMonths:
        paths = copy_of(november_model.paths, folder)
        run = run_month(NOVEMBER, paths, quick_model())
        return RunMonths(paths, {**november_model.runs, NOVEMBER: succeeded(run)}, dict(november_model.models))

    return built_once(tmp_path_factory, "two_months_run", build)


TOKEN = "test-token-of-the-service"
STARTUP_SECONDS = 180


@dataclass
class Service:
    url: str
    paths: DataPaths
    process: subprocess.Popen

    def post(self, path: str, body: object, token: str | None = TOKEN) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def _wait_until_ready(service: Service) -> None:
    """Wait for the process to say it listens, then for /readyz: events, each bounded by the start-up limit."""
    lines = []
    for line in service.process.stdout:  # blocks until the next line: no polling of a clock
        lines.append(line)
        if "listening on http" in line:
            break
    else:
        pytest.fail(f"credit serve ended before listening:\n{''.join(lines)}")
    for _ in range(STARTUP_SECONDS * 10):
        try:
            status, _ = service.get("/readyz")
        except OSError:  # uvicorn binds a moment after the line is printed
            status = None
        if status == 200:
            return
        threading.Event().wait(0.1)
    pytest.fail(f"/readyz never answered 200:\n{''.join(lines)}")


@pytest.fixture(scope="session")
def online_service(november_model, tmp_path_factory):
    """`credit serve` on a copy of November's model data directory (October published), with a token; shared."""
    paths = copy_of(november_model.paths, tmp_path_factory.mktemp("online") / "data")
    (paths.inbox / "20201201.csv").unlink(missing_ok=True)  # December is delivered through the page
    port = free_port()
    process = subprocess.Popen(
        [
            str(shutil.which("credit", path=os.path.dirname(sys.executable))),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**os.environ, "CREDIT_DATA_DIR": str(paths.root), "CREDIT_API_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Service(f"http://127.0.0.1:{port}", paths, process)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)
