"""Under `dagster dev`: parse the dbt project when its files are not the ones the last parse read.

dagster-dbt's `prepare_if_dev` parses at every load of the definitions, and each run `dagster dev`
launches loads them in a process of its own: every run began with a `dbt parse` (3 to 6 s of CPU)
that found nothing new. Here a load parses only when the project's files (each one's path, size
and time) or dbt's version differ from those recorded beside the manifest before its last parse:
an edit, an added or removed file, even one saved while that parse ran. So a run reads the
manifest its code server parsed, the one the UI shows, and an edit is parsed at the next load.

`make setup` parses through `main` below, which records the same way: a data directory's first
load under `dagster dev` takes the checkout's manifest when it was parsed from the files there now.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from importlib.metadata import distributions
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse.paths import DBT_PROJECT_DIR

if TYPE_CHECKING:
    from dagster_dbt import DbtProject

SOURCES_RECORD = "parsed_sources.txt"  # beside the manifest: the files the last parse read
LOCK = "parsed_sources.lock"
MANIFEST = "manifest.json"
# What dbt writes or installs at the project's top, not what its author edits.
NOT_SOURCES = {"target", "logs", "dbt_packages"}


def project_files(project_dir: Path) -> str:
    """The project's files as a parse reads them, one line each (path, size, time), and dbt's versions.

    Hidden names are left out: an editor's lock and swap files are not the project.
    """
    names = ((d.metadata["Name"] or "", d.version) for d in distributions())
    lines = sorted(f"{name} {version}" for name, version in names if name.startswith("dbt"))
    for folder, subfolders, files in os.walk(project_dir):
        top = Path(folder) == Path(project_dir)
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and not (top and name in NOT_SOURCES)
        )
        for name in sorted(name for name in files if not name.startswith(".")):
            path = os.path.join(folder, name)
            try:
                found = os.stat(path)
                seen = f"{found.st_size}\t{found.st_mtime_ns}"
            except OSError:  # removed since the walk listed it, or a link to nothing
                seen = "missing"
            lines.append(f"{os.path.relpath(path, project_dir)}\t{seen}")
    return "\n".join(lines)


def _same_files(target_path: Path, files: str) -> bool:
    record = target_path / SOURCES_RECORD
    return (target_path / MANIFEST).exists() and record.exists() and record.read_text() == files


def prepare_when_edited(project: DbtProject, setup_target: Path) -> None:
    """Under `dagster dev`, parse the project unless the last parse read the files it has now.

    A data directory's first load takes `make setup`'s manifest (`setup_target`) instead, when
    that parse read the files there are now.
    """
    from dagster_dbt import DagsterDbtProjectPreparer  # the import costs seconds; `make setup` needs none

    if not DagsterDbtProjectPreparer().using_dagster_dev():
        return
    target = project.manifest_path.parent
    target.mkdir(parents=True, exist_ok=True)
    # One process at a time checks and parses: another waits here rather than read a manifest half-written.
    with open(target / LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        files = project_files(project.project_dir)  # before the parse: a file saved during it differs next time
        if _same_files(target, files):
            return
        if _same_files(setup_target, files):
            partial = target / f"{MANIFEST}.partial"
            shutil.copyfile(setup_target / MANIFEST, partial)
            os.replace(partial, target / MANIFEST)
        else:
            project.prepare_if_dev()
        (target / SOURCES_RECORD).write_text(files)


def main(arguments: list[str] | None = None) -> int:
    """`make setup`'s parse: `python -m assets.dbt_dev_parse TARGET_PATH [dbt parse's options]`.

    dbt parses the project into TARGET_PATH, and the files it read are recorded beside the manifest.
    """
    from dbt.cli.main import dbtRunner

    target, *options = sys.argv[1:] if arguments is None else arguments
    target_path = Path(target).resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    with open(target_path / LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = project_files(DBT_PROJECT_DIR)
        project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        parsed = dbtRunner().invoke(["parse", *project, "--target-path", str(target_path), *options])
        if not parsed.success:
            return 1
        (target_path / SOURCES_RECORD).write_text(files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
