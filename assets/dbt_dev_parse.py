"""Under `dagster dev`: parse the dbt project when its files are not the ones the last parse read.

dagster-dbt's `prepare_if_dev` parses at every load of the definitions, and each run `dagster dev`
launches loads them in a process of its own: every run began with a `dbt parse` (3 to 6 s of CPU)
that found nothing new. Here a load parses only when the project's files (each one's path, size
and time) or dbt's version differ from those recorded beside the manifest before its last parse:
an edit, an added or removed file, even one saved while that parse ran. So a run reads the
manifest its code server parsed, the one the UI shows, and an edit is parsed at the next load.
"""

from __future__ import annotations

import fcntl
import os
from importlib.metadata import distributions
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtProject

from assets.dbt_kept_parse import project_sources

SOURCES_RECORD = "parsed_sources.txt"  # beside the manifest: the files the last parse read


def project_files(project_dir: Path) -> str:
    """The project's files as a parse reads them (`project_sources`), one line each (path, size, time), and dbt's
    versions."""
    names = ((d.metadata["Name"] or "", d.version) for d in distributions())
    lines = sorted(f"{name} {version}" for name, version in names if name.startswith("dbt"))
    for path in project_sources(project_dir):
        try:
            found = os.stat(path)
            seen = f"{found.st_size}\t{found.st_mtime_ns}"
        except OSError:  # removed since the walk listed it, or a link to nothing
            seen = "missing"
        lines.append(f"{os.path.relpath(path, project_dir)}\t{seen}")
    return "\n".join(lines)


def prepare_when_edited(project: DbtProject) -> None:
    """Under `dagster dev`, parse the project unless the last parse read the files it has now."""
    if not DagsterDbtProjectPreparer().using_dagster_dev():
        return
    record = project.manifest_path.with_name(SOURCES_RECORD)
    record.parent.mkdir(parents=True, exist_ok=True)
    # One process at a time checks and parses: another waits here rather than read a manifest half-written.
    with open(record.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        files = project_files(project.project_dir)  # before the parse: a file saved during it differs next time
        if project.manifest_path.exists() and record.exists() and record.read_text() == files:
            return
        project.prepare_if_dev()
        record.write_text(files)
