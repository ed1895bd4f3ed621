"""Shared fixtures: a small generated delivery set and a warehouse built from it by real dbt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from warehouse.database import dbt_connect_attempts, lock_wait_seconds
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DBT_PROJECT_DIR, DataPaths
from warehouse.sample_data.generator import GeneratedApplications, generate
from warehouse.sample_data.splitter import TRUE_SCORES_FOLDER, write_parts

SMALL_ROWS = 24_000
SMALL_SEED = 7


def dbt_executable() -> str:
    from assets.resources import dbt_executable as beside_python

    return beside_python()


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


SYSTEM_TESTS = Path(__file__).parent / "system"


def pytest_collection_modifyitems(items):
    """Whole-system tests (tests/system) are slow: `make check` leaves them out, `make test` runs them."""
    for item in items:
        if SYSTEM_TESTS in item.path.parents:
            item.add_marker(pytest.mark.slow)
