"""The dbt project that the dbt assets and the dbt resource read.

Its manifest is built before the definitions load: by `make setup` (`dbt parse`) into
`dbt_project/target`, or under `dagster dev`, which parses again at each load so SQL edits
show up in the UI, into the data directory's `dbt_target/dev`. Parsed for the engine
`$CREDIT_ENGINE` names (`warehouse/engine_setting.py`): on Spark, into `target/spark` and `dev_spark`,
because a model's config differs by engine (its file format, how drift is made incremental).
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtProject

from warehouse.engine_setting import DEFAULT_ENGINE, engine_name
from warehouse.paths import DBT_PROJECT_DIR, DataPaths

SETUP_TARGET = DBT_PROJECT_DIR / "target"  # where `make setup` parses the project
PARSE_CACHE = "partial_parse.msgpack"  # dbt's parse cache in a target folder


def engine_folder(folder: str, engine: str) -> str:
    """A target folder's name for the engine: DuckDB's as it always was, another engine's beside it."""
    return folder if engine == DEFAULT_ENGINE else f"{folder}_{engine}"


def project_target_path() -> Path:
    """The checkout's target folder; under `dagster dev`, one of the data directory's own.

    Under `dagster dev` every process that loads the definitions (its code server and each
    run's) may parse the project, and dbt writes the manifest in place: in the checkout's folder
    that would be read half-written by a `credit` command, or by another data directory's server.
    """
    engine = engine_name()
    if DagsterDbtProjectPreparer().using_dagster_dev():
        return DataPaths.from_env().dbt_target / engine_folder("dev", engine)
    return SETUP_TARGET if engine == DEFAULT_ENGINE else SETUP_TARGET / engine


# What dbt writes or installs under the project, not what its author edits.
NOT_SOURCES = {"target", "logs", "dbt_packages"}


def edited_since(manifest: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Whether a file of the project, or a folder of its files, is as new as the manifest or newer.

    A folder's time changes when a file in it is added or removed. Not the project folder's own:
    dbt creates its `target` and `logs` there.
    """
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    for folder, subfolders, files in os.walk(project_dir):
        subfolders[:] = [name for name in subfolders if name not in NOT_SOURCES and not name.startswith(".")]
        entries = files if folder == str(project_dir) else [".", *files]
        if any(os.stat(os.path.join(folder, name)).st_mtime >= written for name in entries):
            return True
    return False


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=project_target_path(), target=engine_name()
)
# Under `dagster dev`, dagster-dbt parses at every load of the definitions, and each run `dagster dev`
# launches loads them in a process of its own: every run began with a `dbt parse` (3 to 6 s of CPU) that
# found nothing new. Parsed only after an edit (a file changed, added or removed), a run reads the
# manifest its code server parsed, the one the UI shows; an edit is parsed at the next load, as before.
if DagsterDbtProjectPreparer().using_dagster_dev() and edited_since(dbt_project.manifest_path):
    dbt_project.prepare_if_dev()
