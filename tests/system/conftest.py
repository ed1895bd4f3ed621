"""Months run through Dagster once per session, shared by the whole-system tests.

A month's run is the expensive step of these tests (dbt twice, a model tuned and fitted),
so October, November's model trained ahead, and November are run once each, each stage on a
copy of the one before; a test that writes works on its own copy of the data directory
(`copy_of`), never on a shared one.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from assets.month_runs import MonthRun, run_month, train_month_ahead
from tests.conftest import data_directory_with_deliveries
from warehouse.paths import DataPaths

OCTOBER, NOVEMBER, DECEMBER = date(2020, 10, 1), date(2020, 11, 1), date(2020, 12, 1)
QUICK_MODEL_CONFIG = {"n_trials": 2, "tuning_rows": 8_000}


def quick_model(**config) -> dict:
    """Run config of a month whose model is tuned briefly: these tests check the flow, not the model."""
    return {"ops": {"credit_default_model": {"config": {**QUICK_MODEL_CONFIG, **config}}}}


@dataclass(frozen=True)
class RunMonths:
    paths: DataPaths
    runs: dict[date, MonthRun]  # each month's own run
    models: dict[date, MonthRun]  # the months whose model was trained ahead, in a run of its own


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def copy_of(source: DataPaths, target: Path) -> DataPaths:
    """A data directory of one's own, warehouse, models and Dagster home included, to write to."""
    shutil.copytree(source.root, target)
    return DataPaths(target)


@pytest.fixture(scope="session")
def october_run(deliveries_dir, tmp_path_factory) -> RunMonths:
    """History and every month file in the inbox; October materialised, its model trained first. Copy it to write."""
    paths = data_directory_with_deliveries(deliveries_dir, tmp_path_factory.mktemp("october_run") / "data")
    run = run_month(OCTOBER, paths, quick_model())
    assert run.success, run.notification
    return RunMonths(paths, {OCTOBER: run}, {})


@pytest.fixture(scope="session")
def november_model(october_run, tmp_path_factory) -> RunMonths:
    """October; then November's model trained ahead, which must beat October's by a whole unit of AUC.

    So November's model is rejected, and October's will score November; November's file waits in the inbox.
    """
    paths = copy_of(october_run.paths, tmp_path_factory.mktemp("november_model") / "data")
    model = train_month_ahead(NOVEMBER, paths, quick_model(promotion_tolerance=-1.0))
    assert model.success, model.notification
    return RunMonths(paths, dict(october_run.runs), {NOVEMBER: model})


@pytest.fixture(scope="session")
def two_months_run(november_model, tmp_path_factory) -> RunMonths:
    """October, November's model trained ahead (and rejected), then November. Copy it before writing."""
    paths = copy_of(november_model.paths, tmp_path_factory.mktemp("two_months_run") / "data")
    run = run_month(NOVEMBER, paths, quick_model())
    assert run.success, run.notification
    return RunMonths(paths, {**november_model.runs, NOVEMBER: run}, dict(november_model.models))
