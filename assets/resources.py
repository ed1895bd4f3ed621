"""Resources: where the data directory is, and the dbt CLI pointed at the project."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from warehouse.database import dbt_connect_attempts, lock_wait_seconds
from warehouse.paths import DBT_PROJECT_DIR, DataPaths



def dbt_executable() -> str:
    """The dbt installed beside this Python, so a venv works without being activated."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else "dbt"


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` the manifest is rebuilt at load, so SQL edits show up without a step;
# elsewhere `make` parses the project once, and a checkout that was never parsed is parsed here.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True,
    )


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI without two start-up costs this project never uses (≈ 6.5 s a run).

    Before each command dagster-dbt runs `dbt --version` in a subprocess (≈ 3.5 s) and builds
    a dbt adapter in this process (≈ 3 s); the adapter only serves the optional row-count and
    column metadata, which the assets do not fetch. Both hooks are private to dagster-dbt: if
    they move in an upgrade these overrides go unused and the run is merely slower again.
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

    data_dir: str

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir).resolve()).create()

    def export_for_dbt(self) -> None:
        """dbt runs as a subprocess and finds the warehouse, and how long to wait for its lock, through these variables (profiles.yml)."""
        os.environ["CREDIT_DATA_DIR"] = str(self.paths.root)
        os.environ["CREDIT_DBT_CONNECT_ATTEMPTS"] = str(dbt_connect_attempts(lock_wait_seconds()))


def default_resources() -> dict:
    return {
        "warehouse": WarehouseResource(data_dir=str(DataPaths.from_env().root)),
        "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
