"""The dbt project that the dbt assets and the dbt resource read.

Its manifest is built before the definitions load: by `make setup` (`dbt parse`), or here
under `dagster dev`, which parses again at each load so SQL edits show up in the UI.
"""

from __future__ import annotations

from dagster_dbt import DbtProject

from warehouse.paths import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
