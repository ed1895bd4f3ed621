"""Shared fixtures: a small generated delivery set and a warehouse built from it by real dbt.

`make test` runs the tests in one process more than there are cores (pytest-xdist): each group below runs
whole in one of them, so a shared fixture is built once, not once per process.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# LightGBM's OpenMP threads otherwise spin while they wait for work: with the two test processes
# both busy on two cores, a fit took ten times as long. Set before LightGBM is first loaded; the
# threads' count, and so every model, is unchanged.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The tests run on the default engine, whatever the shell says (README: `export CREDIT_ENGINE=spark`);
# the Spark tests choose Spark themselves. Before the definitions load, which read it.
os.environ.pop("CREDIT_ENGINE", None)

import pandas as pd
import pytest

from assets.dbt_kept_parse import FOLDER_VARIABLE
from warehouse.database import dbt_connect_attempts, lock_wait_seconds
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DBT_PROJECT_DIR, DataPaths, dbt_executable
from warehouse.sample_data.generator import GeneratedApplications, generate
from warehouse.sample_data.splitter import TRUE_SCORES_FOLDER, write_parts

# Python's cyclic garbage collector runs after every 700 allocations by default; a month's run in
# a test process (dagster, dbt, pandas objects by the million) spent 1.8 s of its 29 s of CPU in it,
# 0.8 s with these thresholds. Nothing the tests check depends on when garbage is collected.
gc.set_threshold(50_000, 20, 100)

SMALL_ROWS = 24_000
SMALL_SEED = 7


def run_dbt(
    command: list[str], data_dir: Path, target_path: Path, project_dir: Path = DBT_PROJECT_DIR
) -> subprocess.CompletedProcess:
    """Run the real dbt CLI against the warehouse of `data_dir`."""
    return subprocess.run(
        [
            dbt_executable(),
            *command,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--target-path",
            str(target_path),
            "--log-path",
            str(target_path),
        ],
        env={
            **os.environ,
            "CREDIT_DATA_DIR": str(data_dir),
            "CREDIT_DBT_CONNECT_ATTEMPTS": str(dbt_connect_attempts(lock_wait_seconds())),
        },
        capture_output=True,
        text=True,
        cwd=project_dir,
    )


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test session's folder, the same in each of its processes (pytest-xdist's documented way)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def kept_dbt_parses(tmp_path_factory) -> Path:
    """dbt's parses are kept for the session's processes, and its subprocesses, as on CI's fresh clone: never
    taken from an earlier session's, so each session runs the parse that the first process of a month makes."""
    folder = session_folder(tmp_path_factory) / "kept_dbt_parses"
    os.environ[FOLDER_VARIABLE] = str(folder)
    return folder


@pytest.fixture(scope="session")
def small_generated() -> GeneratedApplications:
    return generate(rows=SMALL_ROWS, seed=SMALL_SEED)


@pytest.fixture(scope="session")
def small_frame(small_generated) -> pd.DataFrame:
    return small_generated.frame


@pytest.fixture(scope="session")
def deliveries_dir(small_generated, tmp_path_factory) -> Path:
    """The delivery files, and beside them `true_scores/` with the generator's probabilities."""
    folder = tmp_path_factory.mktemp("deliveries")
    write_parts(
        small_generated.frame, folder, small_generated.true_probability, small_generated.true_probability_without_sex
    )
    return folder


@pytest.fixture(scope="session")
def built_warehouse(deliveries_dir, tmp_path_factory) -> DataPaths:
    """History and four months loaded, then `dbt build` run once. Read it, do not write it."""
    paths = DataPaths(tmp_path_factory.mktemp("built")).create()
    for delivery in sorted(deliveries_dir.glob("*.csv")):
        load_delivery(delivery, paths)
    result = run_dbt(["build"], paths.root, paths.root / "dbt_target")
    assert result.returncode == 0, result.stdout[-3000:]
    return paths


def data_directory_with_deliveries(deliveries_dir: Path, root: Path) -> DataPaths:
    """A new data directory whose inbox holds the small deliveries and the generator's true scores."""
    paths = DataPaths(root).create()
    for delivery in deliveries_dir.glob("*.csv"):
        shutil.copy(delivery, paths.inbox / delivery.name)
    shutil.copytree(deliveries_dir / TRUE_SCORES_FOLDER, paths.inbox / TRUE_SCORES_FOLDER)
    return paths


@pytest.fixture
def data_dir(tmp_path, deliveries_dir, monkeypatch) -> DataPaths:
    """An empty data directory whose inbox holds the small deliveries; `credit` commands use it."""
    paths = data_directory_with_deliveries(deliveries_dir, tmp_path / "data")
    monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
    return paths


TESTS = Path(__file__).parent
SYSTEM_TESTS = TESTS / "system"


@dataclass(frozen=True)
class SharedFixtureGroup:
    fixtures: frozenset[str]
    files: frozenset[str]  # relative to tests/


# `make test` runs each group's files in one process, so the shared fixture is built once there;
# the rest go file by file. The months run through Dagster (tests/system/conftest.py) need no
# group: each stage is built once in the session, by the first process to need it, while any
# other that needs it waits.
SHARED_FIXTURE_GROUPS = {
    "online_service": SharedFixtureGroup(  # `credit serve` over November's model, for the API and the page
        frozenset({"online_service"}),
        frozenset({"system/test_online_service.py", "system/test_delivery_page.py"}),
    ),
    "built_warehouse": SharedFixtureGroup(
        frozenset({"built_warehouse"}),
        frozenset(
            [f"dbt_project/{name}.py" for name in ("test_dbt_build", "test_dbt_lock")]
            + [f"ml/{path.name}" for path in (TESTS / "ml").glob("test_*.py")]
        ),
    ),
}
# Under `--dist loadgroup` these go first, the longest first, so that none of them starts last
# (tests/system's each take from one to four minutes). The third starts Spark's month, a
# process of its own, at once, and compares it with the session's DuckDB October once both
# are done: it keeps the third process busy while the first two wait for October's. Spark's
# month (four minutes alone, six beside the others) went fourth, after the built warehouse,
# and the suite took 12 minutes instead of 7 and a half.
LONGEST_FIRST = (
    "system/test_dagster_dev.py",
    "system/test_month_runs.py",
    "system/test_spark_month.py",
    "built_warehouse",
    "system/test_bi_serving.py",
    "online_service",
    "system/test_monitoring.py",
    "system/test_crash_safety.py",
)
OUTSIDE_ITS_GROUP = pytest.StashKey[str]()


def process_group(test_file: str) -> str:
    """The group of a test file (relative to tests/): its shared fixture's, else the file itself."""
    for name, group in SHARED_FIXTURE_GROUPS.items():
        if test_file in group.files:
            return name
    return test_file


def group_of_node(nodeid: str) -> str:
    """The group of a test id as the scheduler sees it (`tests/<file>::<test>`)."""
    return process_group(nodeid.split("::")[0].removeprefix("tests/"))


def distributed_by_group(config: pytest.Config) -> bool:
    """Whether pytest-xdist runs with `--dist loadgroup`; its workers read `dist` as "no", and `loadgroup` instead."""
    return config.getoption("dist", "no") == "loadgroup" or bool(config.getoption("loadgroup", False))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, absent under `-p no:xdist`
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup`: a shared fixture group, or else a file, runs whole in one process, the longest first.

    pytest-xdist's own loadgroup reads `xdist_group` marks through a node attribute that pytest 9.2
    no longer has (pytest-xdist issue 1386), and its scheduler sees test ids only; so the groups
    are named by file here. tests/test_process_groups.py pins the parts of pytest-xdist used.
    """
    if not distributed_by_group(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of_node(nodeid)

    config.option.loadscopereorder = False  # the collection order below, not the largest group first
    return SharedFixtureScheduling(config, log)


def _misplaced(item: pytest.Item, test_file: str) -> str | None:
    """Why a test may not run where it is: it uses a shared fixture its file's group does not hold."""
    group = SHARED_FIXTURE_GROUPS.get(process_group(test_file))
    for other in SHARED_FIXTURE_GROUPS.values():
        used = other.fixtures & set(item.fixturenames)
        if used and not (group and used <= group.fixtures):
            return (
                f"{item.nodeid} uses {', '.join(sorted(used))}: add {test_file} to a group of "
                "SHARED_FIXTURE_GROUPS in tests/conftest.py that shares them"
            )
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Whole-system tests (tests/system) are slow: `make check` leaves them out, `make test` runs them.

    A test that uses a shared fixture from a file outside its group fails, saying so, rather
    than build that fixture twice unseen; under `--dist loadgroup` LONGEST_FIRST go first, in order.
    """
    for item in items:
        if SYSTEM_TESTS in item.path.parents:
            item.add_marker(pytest.mark.slow)
        if item.path.is_relative_to(TESTS) and (problem := _misplaced(item, item.path.relative_to(TESTS).as_posix())):
            item.stash[OUTSIDE_ITS_GROUP] = problem
    if distributed_by_group(config):
        order = LONGEST_FIRST
        items.sort(key=lambda item: order.index(g) if (g := group_of_node(item.nodeid)) in order else len(order))


def pytest_runtest_setup(item):
    if problem := item.stash.get(OUTSIDE_ITS_GROUP, None):
        pytest.fail(problem, pytrace=False)
