"""The resources: the data directory's folders, and the dbt CLI without dagster-dbt's start-up costs."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging.version import Version

from assets.resources import WarehouseResource, default_resources


@contextmanager
def programs_started() -> Iterator[list[str]]:
    """The programs this process starts inside the block, seen through Python's audit events.

    An audit hook cannot be removed, so this one stops recording when the block ends.
    """
    started: list[str] = []
    recording = [True]

    def record(event: str, args: tuple) -> None:
        if recording[0] and event == "subprocess.Popen":
            started.append(str(args[0]))

    sys.addaudithook(record)
    try:
        yield started
    finally:
        recording[0] = False


def test_reading_the_paths_creates_nothing_and_a_run_creates_the_folders_once(tmp_path):
    warehouse = WarehouseResource(data_dir=str(tmp_path / "data"))
    assert warehouse.paths.inbox == tmp_path / "data" / "inbox"
    assert not (tmp_path / "data").exists()
    with dg.build_resources({"warehouse": warehouse}) as resources:
        paths = resources.warehouse.paths
        folders = (paths.inbox, paths.quarantine, paths.training_sets, paths.models, paths.outbox)
        assert all(folder.is_dir() for folder in folders)


def test_dagster_dbt_still_calls_the_two_private_hooks_this_project_overrides():
    """If an upgrade renames or stops calling them, the overrides go unused and every dbt step is ≈ 6.5 s slower."""
    cli = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in cli, "dagster-dbt no longer reads `_cli_version`: see WarehouseDbtCliResource"
    assert "self._initialize_dbt_core_adapter(args)" in cli, "dagster-dbt no longer builds its adapter there"
    assert isinstance(inspect.getattr_static(DbtCliResource, "_cli_version"), cached_property)
    assert list(inspect.signature(DbtCliResource._initialize_dbt_core_adapter).parameters) == ["self", "args"]


def test_the_dbt_resource_knows_its_version_and_builds_no_adapter_without_starting_dbt():
    dbt = default_resources()["dbt"]
    with programs_started() as started:
        assert dbt._cli_version == Version(installed_version("dbt-core"))
        assert dbt._initialize_dbt_core_adapter(["build"]) is None
    assert started == []
