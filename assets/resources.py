"""Resources: where the data directory is, and the dbt CLI pointed at the project."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from dagster_dbt.dbt_manifest import validate_manifest
from packaging.version import Version
from pydantic import Field

from assets.dbt_in_process import DbtInThisProcess, parse_flags
from assets.dbt_kept_parse import kept_manifests_folder
from assets.dbt_project import PARSE_CACHE, dbt_project
from assets.engines import WarehouseEngine, warehouse_engine
from warehouse.database import dbt_connect_attempts, lock_wait_seconds
from warehouse.engine_setting import ENGINE_VARIABLE, ENGINES, EngineUnavailable, engine_name
from warehouse.paths import DataPaths, dbt_executable


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, with dbt run in this process by dbt's programmatic runner.

    `cli` assembles the command as dagster-dbt's own does (the dbt selection of the assets and
    checks a run selected, a target folder per build) and starts dbt in this process
    (assets/dbt_in_process.py) instead of a subprocess: a month run's two dbt steps no longer pay
    dbt's start-up each, and dagster-dbt's `dbt --version` and adapter hooks are not run at all.
    tests/assets/test_resources.py pins the parts of dagster-dbt this reuses.
    """

    def cli(
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest: Any = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: dg.AssetExecutionContext | dg.OpExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        if "CREDIT_DATA_DIR" not in os.environ:
            # profiles.yml's fallback is relative to dbt_project/, and dbt here runs in this process's directory.
            raise RuntimeError("CREDIT_DATA_DIR is not set: WarehouseResource.export_for_dbt() sets it before dbt runs")
        command, selects, excludes = extract_runtime_selection_from_args(args)
        selected = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=dagster_dbt_translator or DagsterDbtTranslator(),
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project_dir = Path(selected.dbt_project.project_dir if selected.dbt_project else self.project_dir)
        target = project_dir / (target_path or self._get_unique_target_path(context=context))  # absolute stays so
        _start_from_the_parse_cache(project_dir / (selected.dbt_project or dbt_project).target_path, target)
        flags = ["--project-dir", str(project_dir), "--target-path", str(target), "--log-path", str(target)]
        flags += ["--profiles-dir", self.profiles_dir] if self.profiles_dir else []
        flags += ["--profile", self.profile] if self.profile else []
        flags += ["--target", self.target] if self.target else []
        flags += ["--indirect-selection", selected.indirect_selection] if selected.indirect_selection else []
        dbt_command = [*command, *flags, *selected.selection_args]
        # A global flag (--warn-error ...) would have to hold for the parse too: then dbt parses as it will.
        parse = None if self.global_config_flags else parse_flags(dbt_command)
        process = DbtInThisProcess(
            [*self.global_config_flags, *dbt_command], parse=parse, kept_in=kept_manifests_folder(project_dir)
        )
        # In the run's log before dbt starts, as dagster-dbt logs it: what dbt was asked, vars included.
        dg.get_dagster_logger().info(f"Running dbt command: `{' '.join(process.args)}`.")
        return DbtCliInvocation(
            process=process,  # type: ignore[arg-type] - the parts of a Popen that DbtCliInvocation uses
            manifest=selected.manifest,
            dagster_dbt_translator=selected.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target,
            raise_on_error=raise_on_error,
            cli_version=Version(installed_version("dbt-core")),
            project=selected.dbt_project,
            context=context,
        )


def _start_from_the_parse_cache(project_target: Path, target: Path) -> None:
    """A new target folder starts from the project's parse cache (`make setup`'s, or `dagster dev`'s).

    So the first build of a data directory does not parse the whole project again.
    """
    cache, copy = project_target / PARSE_CACHE, target / PARSE_CACHE
    if cache.exists() and not copy.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, copy)


class WarehouseResource(dg.ConfigurableResource):
    """The data directory (inbox, DuckDB file, training sets, models, outbox) and the engine holding the tables."""

    data_dir: str = Field(description="The data directory ($CREDIT_DATA_DIR, default ./data) the run reads and writes.")
    engine: str = Field(
        default_factory=engine_name,
        description=f"Where the tables live and dbt runs: {' or '.join(ENGINES)} (${ENGINE_VARIABLE}, default duckdb).",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once when a run or a sensor tick starts, so every step finds the folders it writes into.
        self.paths.create()

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir).resolve())

    def engine_name(self) -> str:
        """`engine`, checked (`warehouse.engine_setting`)."""
        return engine_name({ENGINE_VARIABLE: self.engine})

    def warehouse_engine(self) -> WarehouseEngine:
        """The engine, one per data directory in this process: on Spark, the run's session (dbt joins it).

        Only the engine the dbt project was parsed for when the definitions loaded: a model's
        config differs by engine, and the dbt steps build from that parse.
        """
        try:
            name = self.engine_name()
            if name != dbt_project.target:
                raise ValueError(
                    f"this run's engine is {name} and the definitions were loaded for {dbt_project.target}: set"
                    f" {ENGINE_VARIABLE}={name} for `make setup`, `make ui` and `credit` alike, so they agree"
                )
            engine = _engine(str(self.paths.root), name)
            engine.check_usable()  # on each call: one engine per process, and a Spark JVM that ended serves no retry
            return engine
        except (ValueError, EngineUnavailable) as error:  # a setting, Spark missing or ended: the same on a retry
            raise dg.Failure(description=str(error), allow_retries=False) from error

    def export_for_dbt(self) -> None:
        """Sets what profiles.yml reads: the warehouse, and how long dbt waits for its lock."""
        os.environ["CREDIT_DATA_DIR"] = str(self.paths.root)
        os.environ["CREDIT_DBT_CONNECT_ATTEMPTS"] = str(dbt_connect_attempts(lock_wait_seconds()))


@cache
def _engine(data_dir: str, name: str) -> WarehouseEngine:
    return warehouse_engine(DataPaths(Path(data_dir)), {ENGINE_VARIABLE: name})


def default_resources() -> dict:
    return {
        "warehouse": WarehouseResource(data_dir=str(DataPaths.from_env().root)),
        "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
