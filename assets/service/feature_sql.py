"""The feature mart's compiled SQL for online scoring, from dbt's manifest.

dbt compiles the staging model and the mart against the `online` target of profiles.yml, an
empty in-memory DuckDB: the warehouse is never opened (so no lock is taken), and the mart
compiles as a whole build, not an incremental one. The compiled code is read from the
manifest that compile writes, as dbt itself rendered it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from warehouse.online.features import FeatureSql
from warehouse.paths import DBT_PROJECT_DIR

ONLINE_TARGET = "online"
PROJECT = "credit_default"
STAGING_MODEL = f"model.{PROJECT}.stg_home_credit__applications"
MART_MODEL = f"model.{PROJECT}.fct_application_features"


def compile_feature_sql(dbt: str, target_path: Path) -> FeatureSql:
    """Run `dbt compile` for staging and the mart on the online target; their compiled SQL."""
    target_path.mkdir(parents=True, exist_ok=True)
    command = [
        dbt,
        "compile",
        "--select",
        "stg_home_credit__applications fct_application_features",
        "--target",
        ONLINE_TARGET,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env={**os.environ})
    if result.returncode != 0:
        raise RuntimeError(f"dbt compile of the feature SQL failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return feature_sql_from_manifest(json.loads((target_path / "manifest.json").read_text(encoding="utf-8")))


def feature_sql_from_manifest(manifest: dict) -> FeatureSql:
    staging, mart = manifest["nodes"][STAGING_MODEL], manifest["nodes"][MART_MODEL]
    if not staging.get("compiled_code") or not mart.get("compiled_code"):
        raise RuntimeError("the manifest holds no compiled SQL for staging and the mart: compile them first")
    if staging["database"] != mart["database"]:
        raise RuntimeError(
            f"staging and the mart compiled into two databases: {staging['database']}, {mart['database']}"
        )
    return FeatureSql(staging=staging["compiled_code"], mart=mart["compiled_code"], database=mart["database"])
