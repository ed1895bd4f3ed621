"""The resources: the data directory's folders, and dbt run by dagster-dbt in this process."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import shutil
import signal
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DagsterDbtCliRuntimeError, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context

from assets.dbt_dev_parse import project_files
from assets.dbt_kept_parse import FOLDER_VARIABLE
from assets.dbt_project import SETUP_TARGET, project_target_path
from assets.resources import WarehouseResource, default_resources
from warehouse.database import connect
from warehouse.paths import DataPaths


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


def test_dagster_dbt_still_offers_what_the_in_process_dbt_resource_reuses():
    """If an upgrade moves them, this fails by name rather than every dbt step failing at run time.

    And if dagster-dbt starts passing dbt a setting this project's `cli` does not, it fails too.
    """
    assert list(inspect.signature(extract_runtime_selection_from_args).parameters) == ["args"]
    assert {"context", "manifest", "dagster_dbt_translator", "runtime_selects", "runtime_excludes"} <= set(
        inspect.signature(get_updated_cli_invocation_params_for_context).parameters
    )
    fields = {field.name for field in dataclasses.fields(DbtCliInvocation) if field.init}
    assert {"process", "manifest", "dagster_dbt_translator", "project_dir", "target_path", "cli_version"} <= fields
    assert "_get_unique_target_path" in vars(DbtCliResource)
    settings = set(re.findall(r'"((?:DBT|DAGSTER_DBT)_[A-Z_]+)"', inspect.getsource(DbtCliResource.cli)))
    assert settings == {
        "DAGSTER_DBT_CLI",  # read by nothing in this project
        "DBT_SEND_ANONYMOUS_USAGE_STATS",
        "DBT_LOG_FORMAT",  # events come from the runner's callback
        "DBT_TARGET_PATH",
        "DBT_LOG_PATH",
        "DBT_PROFILES_DIR",
        "DBT_PROJECT_DIR",
    }, "dagster-dbt passes dbt a new setting: pass it in WarehouseDbtCliResource.cli too"


def test_dbt_runs_in_this_process_and_leaves_the_warehouse_free(tmp_path, monkeypatch):
    paths = DataPaths(tmp_path / "data").create()
    with connect(paths.warehouse):
        pass  # the raw tables the staging views read
    # What the dbt step exports for profiles.yml, set through monkeypatch so no later test sees it.
    monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
    monkeypatch.setenv("CREDIT_DBT_CONNECT_ATTEMPTS", "1")
    dbt = default_resources()["dbt"]
    with programs_started() as started:
        invocation = dbt.cli(["run", "--select", "stg_home_credit__outcomes"], target_path=tmp_path / "target")
        events = list(invocation.stream_raw_events())
    assert not [program for program in started if "dbt" in Path(program).name], "no dbt program is started"
    assert invocation.is_successful()
    assert any(event.raw_event["info"]["name"] == "LogModelResult" for event in events), "dbt's events stream"
    # dbt-duckdb keeps its database open between commands unless told; this process must not hold the lock.
    with duckdb.connect(str(paths.warehouse), read_only=True) as reader:
        [(views,)] = reader.execute(
            "select count(*) from duckdb_views() where view_name = 'stg_home_credit__outcomes'"
        ).fetchall()
    assert views == 1


@pytest.mark.parametrize(
    ("arguments", "dbts_message"),
    [
        (["run", "--vars", "{not: [yaml"], "is not valid YAML"),
        (["run", "--no-such-flag"], "No such option '--no-such-flag'"),
    ],
)
def test_a_dbt_command_that_fails_in_this_process_fails_the_step_with_dbts_message(
    tmp_path, monkeypatch, arguments, dbts_message
):
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "data"))
    dbt = default_resources()["dbt"]
    invocation = dbt.cli(arguments, target_path=tmp_path / "target", raise_on_error=False)
    assert not invocation.is_successful()
    error = invocation.get_error()
    assert isinstance(error, DagsterDbtCliRuntimeError)
    assert dbts_message in str(error).split("Errors parsed from dbt logs:")[1], "dbt's own reason, not only its command"


def test_an_interrupted_dbt_command_stops_and_frees_the_warehouse(tmp_path, monkeypatch):
    """A run terminated mid-query: dagster-dbt's interrupt cancels the query and dbt returns, failed."""
    paths = DataPaths(tmp_path / "data").create()
    with connect(paths.warehouse):
        pass
    monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
    monkeypatch.setenv("CREDIT_DBT_CONNECT_ATTEMPTS", "1")
    endless = "select count(*) from range(1000000000000) as numbers(n) where n % 7 = 3"
    invocation = default_resources()["dbt"].cli(
        ["show", "--inline", endless], target_path=tmp_path / "target", raise_on_error=False
    )
    lines = iter(invocation.process.stdout)
    while json.loads(next(lines))["info"]["name"] != "ConcurrencyLine":
        pass  # dbt starts the query next
    invocation.process.send_signal(signal.SIGINT)
    after = [json.loads(line)["info"]["msg"] for line in lines]  # until dbt has finished
    assert any("keyboard interrupt" in message.lower() or "KeyboardInterrupt" in message for message in after), after
    assert invocation.process.wait(timeout=60) == 2
    # Read-only: DuckDB refuses it while this process still has the file open for writing.
    with duckdb.connect(str(paths.warehouse), read_only=True) as reader:
        reader.execute("select 1").fetchall()


def test_dagster_dev_parses_the_project_into_the_data_directory_not_the_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    assert project_target_path() == SETUP_TARGET
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")  # what `dagster dev` sets for the processes it starts
    assert project_target_path() == DataPaths(tmp_path).dbt_target / "dev"


def test_dagster_dev_parses_the_project_again_only_when_its_files_are_not_those_last_parsed(tmp_path):
    """Each run `dagster dev` launches loads the definitions: it parses only if a file was edited, added or removed."""
    project = tmp_path / "dbt_project"
    for path in ("dbt_project.yml", "packages.yml", "models/a.sql", "models/b.sql", "models/logs/c.sql"):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text("select 1")
    parsed = project_files(project)  # as recorded before a parse
    assert parsed == project_files(project)
    (project / "target").mkdir()  # what dbt writes at the project's top is not the project
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("")
    (project / "models" / ".#a.sql").symlink_to(tmp_path / "nowhere")  # an editor's lock, a link to nothing
    assert project_files(project) == parsed
    os.utime(project / "models" / "a.sql", ns=(0, 0))  # saved while the parse ran, or moved in with an old time
    assert project_files(project) != parsed, "a model changed"
    for changed in ("models/b.sql", "packages.yml", "models/logs/c.sql"):
        before = project_files(project)
        (project / changed).unlink()
        assert project_files(project) != before, f"{changed} removed"
    (project / "models" / "d.sql").write_text("select 4")
    assert "models/d.sql" in project_files(project), "a model added"


def test_a_second_data_directory_is_built_from_the_manifest_this_process_parsed(tmp_path, monkeypatch):
    """dbt's parse cache names one warehouse path; in one process the project is parsed once for all of them."""
    monkeypatch.setenv("CREDIT_DBT_CONNECT_ATTEMPTS", "1")
    monkeypatch.setenv(FOLDER_VARIABLE, str(tmp_path / "kept"))  # none kept by another process
    dbt = default_resources()["dbt"]
    commands_logged = []
    run_id = uuid.uuid4().hex
    for name in ("first", "second"):
        paths = DataPaths(tmp_path / name).create()
        with connect(paths.warehouse):
            pass
        monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
        # A --vars no other test passes: the first build here parses, whatever ran before in this process.
        command = ["run", "--select", "stg_home_credit__outcomes", "--vars", json.dumps({"reuse_check": run_id})]
        invocation = dbt.cli(command, target_path=tmp_path / name / "target")
        invocation.wait()
        assert invocation.is_successful()
        log = (tmp_path / name / "target" / "dbt.log").read_text(encoding="utf-8")
        commands_logged.append(sorted(set(re.findall(r"Command `\w+ (\w+)` succeeded", log))))
        with duckdb.connect(str(paths.warehouse), read_only=True) as reader:
            assert reader.execute(
                "select count(*) from duckdb_views() where view_name = 'stg_home_credit__outcomes'"
            ).fetchall() == [(1,)], f"the {name} warehouse has its own view"
    assert commands_logged == [["parse", "run"], ["run"]]


def test_a_parse_kept_by_one_process_serves_the_next_and_a_damaged_one_is_parsed_again(tmp_path, monkeypatch):
    """Each Dagster run is a process of its own: it unpacks the parse an earlier one kept beside the manifest."""
    from assets import dbt_kept_parse

    monkeypatch.setenv("CREDIT_DBT_CONNECT_ATTEMPTS", "1")
    kept_folder = tmp_path / "kept"
    monkeypatch.setenv(FOLDER_VARIABLE, str(kept_folder))
    dbt = default_resources()["dbt"]
    # A --vars no other test passes: the first build parses, whatever this process parsed before.
    command = ["run", "--select", "stg_home_credit__outcomes", "--vars", json.dumps({"kept_check": uuid.uuid4().hex})]

    def commands_in_a_new_process(name: str) -> list[str]:
        monkeypatch.setattr(dbt_kept_parse, "_IN_MEMORY", {})  # what a new process holds: nothing parsed
        paths = DataPaths(tmp_path / name).create()
        with connect(paths.warehouse):
            pass
        monkeypatch.setenv("CREDIT_DATA_DIR", str(paths.root))
        invocation = dbt.cli(command, target_path=tmp_path / name / "target")
        invocation.wait()
        assert invocation.is_successful()
        log = (tmp_path / name / "target" / "dbt.log").read_text(encoding="utf-8")
        return sorted(set(re.findall(r"Command `\w+ (\w+)` succeeded", log)))

    assert commands_in_a_new_process("first") == ["parse", "run"]
    [kept] = kept_folder.iterdir()
    assert commands_in_a_new_process("second") == ["run"], "the kept parse, unpacked"
    kept.write_bytes(kept.read_bytes()[:-100])  # cut short, as no write of the project leaves it
    assert commands_in_a_new_process("third") == ["parse", "run"], "one that does not unpack is parsed again"
    assert commands_in_a_new_process("fourth") == ["run"], "and kept again, whole"
    assert list(kept_folder.iterdir()) == [kept]


def test_a_parse_is_kept_on_disk_only_for_a_named_target_and_profile_and_only_in_its_environment(tmp_path, monkeypatch):
    from assets.dbt_kept_parse import KeptManifest, kept_file, kept_manifest, parse_key

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "a.sql").write_text("select 1", encoding="utf-8")
    named = ("--project-dir", str(project), "--profiles-dir", str(project), "--target", "duckdb")
    assert kept_file(tmp_path, parse_key(named)) is not None
    assert kept_file(tmp_path, parse_key(named[:4])) is None, "the target chosen by the environment"
    assert kept_file(tmp_path, parse_key(named[:2] + named[4:])) is None, "a profile found in the working folder"
    assert kept_file(None, parse_key(named)) is None
    (project / "models" / ".#a.sql").symlink_to(tmp_path / "nowhere")  # an editor's lock: not the project
    key = parse_key(named)
    file = kept_file(tmp_path, key)
    monkeypatch.setenv("SOME_SETTING", "parsed with this")
    KeptManifest(b"not unpacked", {"SOME_SETTING": "parsed with something else"}).write(file)
    assert kept_manifest(key, file) is None, "parsed in another environment: parsed again"
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    (copy / "models" / "a.sql").write_text("select 2", encoding="utf-8")
    os.utime(copy / "models" / "a.sql", ns=((project / "models" / "a.sql").stat().st_mtime_ns,) * 2)
    moved = parse_key(("--project-dir", str(project), "--profiles-dir", str(project), "--target", "duckdb"))
    shutil.rmtree(project)
    copy.rename(project)
    assert parse_key(named) != moved, "another content at the same size and time"


def test_a_kept_manifest_is_not_used_after_the_project_or_its_vars_change(tmp_path):
    from assets.dbt_in_process import parse_flags
    from assets.dbt_kept_parse import parse_key

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "target").mkdir()
    model = project / "models" / "a.sql"
    model.write_text("select 1", encoding="utf-8")
    build = ["build", "--exclude-resource-type", "unit_test", "--project-dir", str(project)]
    here = parse_flags([*build, "--target-path", str(tmp_path / "one"), "--select", "a b", "--full-refresh"])
    there = parse_flags([*build, "--target-path", str(tmp_path / "two")])
    build.extend(["--target-path", str(tmp_path / "three")])
    assert here is not None and there is not None
    assert parse_key(here.what) == parse_key(there.what), "the target folder is not what a parse depends on"
    (project / "target" / "manifest.json").write_text("{}", encoding="utf-8")
    assert parse_key(here.what) == parse_key(there.what), "nor is dbt's output"
    with_vars = parse_flags([*build, "--vars", '{"a": 1}'])
    assert parse_key(with_vars.what) != parse_key(here.what)
    before = parse_key(here.what)
    model.write_text("select 22", encoding="utf-8")
    assert parse_key(here.what) != before, "an edited model is parsed again"
    # Commands without a manifest, or with a flag it does not know, are never given a kept one.
    assert parse_flags(["parse", "--project-dir", str(project)]) is None
    assert parse_flags([*build, "--no-partial-parse"]) is None
    assert parse_flags(["build", "--target-path", str(tmp_path)]) is None, "no project named"
    assert parse_flags(["build", "--project-dir", str(project)]) is None, "no target folder named"
    assert parse_flags([*build, "--vars", "{}", "--vars", '{"a": 1}']) is None, "a flag given twice"


def test_a_kept_manifest_gives_each_build_its_own_copy_disabled_models_included():
    """Unpacked as dbt unpacks its parse cache: dbt's Manifest.deepcopy fails on a disabled model."""
    from dbt.contracts.graph.manifest import Manifest

    from assets.dbt_kept_parse import KeptManifest

    parsed = Manifest(disabled={"model.credit_default.switched_off": []})
    parsed.env_vars["SOME_SETTING"] = "a"
    kept = KeptManifest.of(parsed)
    first, second = kept.manifest(), kept.manifest()
    assert first is not second and first.disabled == parsed.disabled == second.disabled
    assert kept.environment == {"SOME_SETTING": "a"}
    first.disabled.clear()  # what one build does to its copy, the next does not see
    assert kept.manifest().disabled == parsed.disabled
