"""October run through Dagster with `CREDIT_ENGINE=spark` is October run on DuckDB, file for file.

The same inbox and run config as the session's DuckDB October (`october_run`), in a process of
its own (the definitions read the dbt project parsed for Spark, and Spark's local metastore is
one per process): every step of the month on Spark, then what it left compared with DuckDB's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.dagster_instance import dagster_instance
from ml.dataset import file_fingerprint
from ml.model_store import MODEL_FILE
from tests.conftest import data_directory_with_deliveries
from tests.system.conftest import OCTOBER, quick_model, recorded_run
from warehouse.paths import DataPaths
from warehouse.publishing.bi_copy import SERVED_TABLES, SERVING_DATABASE
from warehouse.publishing.outbox_csv import outbox_file_name

RUN_MONTH = """
import json, sys
from datetime import date
from assets.month_runs import run_month
from warehouse.paths import DataPaths

run = run_month(date.fromisoformat(sys.argv[1]), DataPaths.from_env(), json.loads(sys.argv[2]))
print(json.dumps({"run_id": run.result.run_id, "success": run.success}))
"""


@pytest.fixture(scope="module")
def spark_october(deliveries_dir, tmp_path_factory) -> tuple[DataPaths, str]:
    paths = data_directory_with_deliveries(deliveries_dir, tmp_path_factory.mktemp("spark_october") / "data")
    environment = {**os.environ, "CREDIT_DATA_DIR": str(paths.root), "CREDIT_ENGINE": "spark"}
    finished = subprocess.run(
        [sys.executable, "-c", RUN_MONTH, OCTOBER.isoformat(), json.dumps(quick_model())],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr[-5000:]
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])
    assert outcome["success"], (paths.logs, finished.stdout[-5000:])
    return paths, outcome["run_id"]


def test_the_spark_month_writes_the_same_outbox_from_the_same_model(spark_october, october_run):
    on_spark, _ = spark_october
    on_duckdb = october_run.paths
    outbox = outbox_file_name(OCTOBER)
    assert (on_spark.outbox / outbox).read_bytes() == (on_duckdb.outbox / outbox).read_bytes()
    # The same training set, so the same model, byte for byte: LightGBM's own text file.
    training_sets = [sorted(paths.training_sets.glob("*.parquet")) for paths in (on_duckdb, on_spark)]
    assert [path.name for path in training_sets[1]] == [path.name for path in training_sets[0]] == ["2020-10.parquet"]
    assert file_fingerprint(training_sets[1][0]) == file_fingerprint(training_sets[0][0])
    [version] = [folder.name for folder in on_duckdb.models.iterdir() if folder.is_dir()]
    assert (on_spark.models / version / MODEL_FILE).read_bytes() == (
        on_duckdb.models / version / MODEL_FILE
    ).read_bytes()


def test_the_spark_run_records_what_the_duckdb_run_records(spark_october, october_run):
    """Every step and check ran, and the figures the UI shows of the load and the scores are DuckDB's."""
    on_spark = recorded_run(*spark_october)
    on_duckdb = recorded_run(october_run.paths, october_run.runs[OCTOBER])
    assert on_spark.steps == on_duckdb.steps
    assert any("drift_warnings" in step for step in on_spark.steps)
    for asset, figures in {
        "raw_applications": ["rows", "labelled_rows", "files"],
        "raw_outcomes": ["outcomes_known", "files"],
        "monthly_predictions": [
            "rows",
            "mean_probability",
            "decline_rate",
            "review_rate",
            "top_reasons",
            "labelled_rows",
            "out_of_time_auc",
        ],
        "training_set": ["rows", "fingerprint", "label_deliveries"],
        "credit_default_model": ["model_version", "registry_status", "validation_auc"],
    }.items():
        [spark_values], [duckdb_values] = on_spark.metadata[asset], on_duckdb.metadata[asset]
        assert {name: spark_values.get(name) for name in figures} == {name: duckdb_values.get(name) for name in figures}
    predictions = on_spark.metadata["monthly_predictions"][0]
    assert predictions["rows"] > 500 and predictions["labelled_rows"] > 100 and predictions["out_of_time_auc"] > 0.6
    # What each check decided, and what it said: the monitoring checks and dbt's tests, on Spark as on DuckDB.
    checks = [_check_evaluations(*run) for run in (spark_october, (october_run.paths, october_run.runs[OCTOBER]))]
    assert checks[0] == checks[1] and len(checks[0]) > 50
    monitoring = {"drift_warnings", "fairness_warnings", "performance_warnings", "unseen_level_warnings"}
    assert monitoring <= {name for name, *_ in checks[0]}


def _check_evaluations(paths: DataPaths, run_id: str) -> list[tuple]:
    with dagster_instance(paths) as instance:
        events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event]
    return sorted(
        (
            event.event_specific_data.check_name,
            event.event_specific_data.passed,
            str(event.event_specific_data.severity),
            event.event_specific_data.description,
        )
        for event in events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )


def test_the_spark_month_publishes_the_same_bi_copy(spark_october, october_run):
    """Predictions, monitoring and the registry as BI reads them: when each engine scored and registered aside."""
    for table in SERVED_TABLES:
        on_duckdb, on_spark = (_view(paths, table.name) for paths in (october_run.paths, spark_october[0]))
        assert list(on_spark.columns) == list(on_duckdb.columns), table.name
        assert len(on_spark) == len(on_duckdb), table.name
        if table.name in ("drift", "fairness", "predictions"):
            assert len(on_duckdb) > 0, table.name
        key = [column for column in on_duckdb.columns if not pd.api.types.is_float_dtype(on_duckdb[column])]
        on_duckdb, on_spark = (frame.sort_values(key).reset_index(drop=True) for frame in (on_duckdb, on_spark))
        # Figures rounded to six places by each engine: a half may round either way.
        pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, rtol=0, atol=2e-6, obj=table.name)


def _view(paths: DataPaths, name: str) -> pd.DataFrame:
    with duckdb.connect(str(paths.serving / SERVING_DATABASE), read_only=True) as serving:
        frame = serving.sql(f"select * from {name}").df()
    frame = frame.drop(columns=["scored_at", "drift_scored_at", "registered_at", "model_path"], errors="ignore")
    for column in frame.columns:  # a missing value is None or NA from one engine and NaN from the other
        values = frame[column]
        if any(isinstance(value, np.ndarray | list) for value in values):
            frame[column] = values.map(lambda value: None if value is None else tuple(value))
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype(object).where(values.notna(), None)
        else:
            frame[column] = values.astype("float64")
    return frame
