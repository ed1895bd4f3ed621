"""The dbt project that the dbt assets and the dbt resource read.

Its manifest is built before the definitions load: by `make setup` (`dbt parse`) into
`dbt_project/target`, or under `dagster dev`, which parses again at a load after an edit so SQL
edits show up in the UI, into the data directory's `dbt_target/dev`. Parsed for the engine
`$CREDIT_ENGINE` names (`warehouse/engine_setting.py`): on Spark, into `target/spark` and `dev_spark`,
because a model's config differs by engine (its file format, how drift is made incremental).
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtProject

from assets.dbt_dev_parse import prepare_when_edited
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


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=project_target_path(), target=engine_name()
)
# Under `dagster dev`, parsed again only after an edit (assets/dbt_dev_parse.py).
prepare_when_edited(dbt_project)
