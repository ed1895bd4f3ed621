"""`credit status` reads the warehouse and Dagster's records without building the definitions or importing dagster."""

from __future__ import annotations

import os
import subprocess
import sys

from warehouse.database import connect
from warehouse.paths import DataPaths

# What `credit run` needs and `credit status` must not load: each costs seconds at start-up. Even dagster
# itself takes about a second to import: status reads the instance's SQLite files (assets/run_records.py).
NOT_FOR_STATUS = {"dagster", "dagster_dbt", "dbt", "lightgbm", "optuna", "sklearn", "pandas"}

REPORT_MODULES = """
import sys
from assets.command_line.main import main
exit_code = main(["status"])
print(exit_code, *sorted(sys.modules))
"""


def test_status_does_not_load_dagster_the_definitions_dbt_or_the_model_libraries(tmp_path):
    paths = DataPaths(tmp_path / "data")
    with connect(paths.warehouse):
        pass  # a warehouse with its schemas and nothing loaded yet
    done = subprocess.run(
        [sys.executable, "-c", REPORT_MODULES],
        env={**os.environ, "CREDIT_DATA_DIR": str(paths.root)},
        capture_output=True,
        text=True,
        check=True,
    )
    exit_code, *modules = done.stdout.splitlines()[-1].split()
    assert exit_code == "0", done.stderr
    assert "months:" in done.stdout and "champion model: none yet" in done.stdout
    assert {module.split(".")[0] for module in modules} & NOT_FOR_STATUS == set()
    assert "assets.definitions" not in modules
