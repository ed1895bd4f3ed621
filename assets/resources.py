"""Resources: where the data directory is, and the dbt CLI pointed at the project."""

from __future__ import annotations

import os
import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging.version import Version
from pydantic import Field

from assets.dbt_project import dbt_project
from warehouse.database import dbt_connect_attempts, lock_wait_seconds
from warehouse.paths import DataPaths


def dbt_executable() -> str:
    """The dbt installed beside this Python, so a venv works without being activated."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else "dbt"


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI without two start-up costs this project never uses (≈ 6.5 s a run).

    Before each command dagster-dbt runs `dbt --version` in a subprocess (≈ 3.5 s) and builds
    a dbt adapter in this process (≈ 3 s); the adapter only serves the optional row-count and
    column metadata, which the assets do not fetch. Both hooks are private to dagster-dbt, so
    tests/assets/test_resources.py pins them: an upgrade that moves them fails that test rather
    than quietly making every dbt step slower again.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return Version(installed_version("dbt-core"))  # the dbt beside this Python is this dbt-core
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None


class WarehouseResource(dg.ConfigurableResource):
    """The data directory: inbox, DuckDB warehouse, training sets, models, outbox."""

    data_dir: str = Field(description="The data directory ($CREDIT_DATA_DIR, default ./data) the run reads and writes.")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once when a run or a sensor tick starts, so every step finds the folders it writes into.
        self.paths.create()

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir).resolve())

    def export_for_dbt(self) -> None:
        """Sets what profiles.yml reads: the warehouse, and how long dbt (a subprocess) waits for its lock."""
        os.environ["CREDIT_DATA_DIR"] = str(self.paths.root)
        os.environ["CREDIT_DBT_CONNECT_ATTEMPTS"] = str(dbt_connect_attempts(lock_wait_seconds()))


def default_resources() -> dict:
    return {
        "warehouse": WarehouseResource(data_dir=str(DataPaths.from_env().root)),
        "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
