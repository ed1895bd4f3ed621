"""One month on local Spark equals the same month on DuckDB: feature rows, training set, scores.

The same deliveries go through each engine: loaded (Spark's CSV reader against the
contract), built by the one dbt project (the `spark` target in dbt-spark's `session`
method, joining the Spark session started here), snapshotted as the month's training set,
and scored (on Spark, by `mapInPandas` on the executors).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from dbt.cli.main import dbtRunner

from ml.batch_scoring import BatchScorer
from ml.dataset import TrainingSetSummary, applicant_values, scoring_rows, write_training_set, write_training_table
from ml.scoring import score
from ml.training import train_model
from ml.training_config import TrainingConfig
from ml.training_data import TrainingData
from tests.conftest import run_dbt
from warehouse.database import connect
from warehouse.ingestion.loader import DeliveryRejected, load_delivery
from warehouse.paths import DBT_PROJECT_DIR, DataPaths
from warehouse.spark import marts
from warehouse.spark.delivery_load import load_application_file
from warehouse.spark.session import spark_session

pytestmark = pytest.mark.slow

MONTH = date(2020, 11, 1)
# The history and the month before: November's training set holds October with October's labels.
DELIVERIES = ("initial.csv", "20201001.csv", "20201101.csv")
MODELS = ["staging", "intermediate", "marts"]
# Cheap but real: a few trees, one trial.
CONFIG = TrainingConfig(n_trials=1, tuning_rows=1_000, max_rounds=60, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def duckdb_month(deliveries_dir, tmp_path_factory) -> DataPaths:
    paths = DataPaths(tmp_path_factory.mktemp("duckdb_month")).create()
    for name in DELIVERIES:
        load_delivery(deliveries_dir / name, paths)
    result = run_dbt(["run", "--select", *MODELS], paths.root, paths.root / "dbt_target")
    assert result.returncode == 0, result.stdout[-3000:]
    return paths


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_month")
    session = spark_session(root)
    yield session, root
    session.stop()


@pytest.fixture(scope="module")
def spark_month(spark, deliveries_dir):
    session, root = spark
    for name in DELIVERIES:
        loaded = load_application_file(session, deliveries_dir / name, root / "quarantine")
        assert loaded.rows > 0
    previous = os.environ.get("CREDIT_DATA_DIR")
    os.environ["CREDIT_DATA_DIR"] = str(root)
    try:
        result = dbtRunner().invoke(
            [
                "run",
                "--target",
                "spark",
                "--select",
                *MODELS,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(root / "dbt_target"),
                "--log-path",
                str(root / "dbt_target"),
            ]
        )
    finally:
        if previous is None:
            os.environ.pop("CREDIT_DATA_DIR")
        else:
            os.environ["CREDIT_DATA_DIR"] = previous
    assert result.success, result.exception
    return session, root


def _duckdb_features(paths: DataPaths) -> pd.DataFrame:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.sql(
            "select * exclude (loaded_at) from marts.fct_application_features order by sk_id_curr"
        ).df()


def test_spark_builds_the_same_feature_rows(duckdb_month, spark_month):
    session, _ = spark_month
    on_duckdb = _duckdb_features(duckdb_month)
    on_spark = session.sql("select * from marts.fct_application_features order by sk_id_curr").toPandas()
    on_spark = on_spark.loc[:, list(on_duckdb.columns)]
    assert len(on_duckdb) > 20_000 and on_duckdb["application_month"].notna().sum() > 1_000
    for frame in (on_spark, on_duckdb):
        frame["application_month"] = pd.to_datetime(frame["application_month"]).dt.strftime("%Y-%m-%d")
    # Values exactly equal; dtypes may differ (Spark gives a whole-number column with nulls as float64, DuckDB too,
    # but Int32 where pandas' own types apply).
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, check_exact=True)


@pytest.fixture(scope="module")
def training_sets(duckdb_month, spark_month, tmp_path_factory) -> tuple[TrainingSetSummary, TrainingSetSummary]:
    session, _ = spark_month
    folder = tmp_path_factory.mktemp("training_sets")
    with connect(duckdb_month.warehouse, read_only=True) as connection:
        on_duckdb = write_training_set(connection, MONTH, folder / "duckdb.parquet")
    on_spark = write_training_table(marts.training_rows(session, MONTH), MONTH, folder / "spark.parquet")
    return on_duckdb, on_spark


def test_spark_snapshots_the_same_training_set(training_sets):
    on_duckdb, on_spark = training_sets
    assert on_spark.rows == on_duckdb.rows > 20_000
    assert on_spark.latest_month == date(2020, 10, 1)
    assert on_spark.fingerprint == on_duckdb.fingerprint


def test_spark_scores_the_month_as_duckdb_does(duckdb_month, spark_month, training_sets):
    session, _ = spark_month
    trained = train_model(TrainingData.from_parquet(training_sets[1].path), CONFIG, progress=lambda message: None)
    model_text = trained.booster.model_to_string()
    with connect(duckdb_month.warehouse, read_only=True) as connection:
        rows = scoring_rows(connection, MONTH)
        values = applicant_values(connection, month=MONTH)
    on_duckdb = score(
        lgb.Booster(model_str=model_text),
        rows,
        trained.feature_names,
        "test-model",
        calibration=trained.calibration,
        applicant_values=values,
    )
    scorer = BatchScorer(tuple(trained.feature_names), "test-model", calibration=trained.calibration)
    scored_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    written = marts.score_month(session, MONTH, model_text, scorer.make, scored_at)
    on_spark = marts.predictions(session, MONTH)

    assert written == len(on_duckdb) == len(rows) > 500
    assert on_spark["sk_id_curr"].tolist() == on_duckdb["sk_id_curr"].tolist()
    np.testing.assert_allclose(on_spark["default_probability"], on_duckdb["default_probability"], rtol=0, atol=1e-9)
    for column in ("risk_grade", "decision", "reason_code_1", "reason_1", "reason_4", "model_version"):
        assert on_spark[column].tolist() == on_duckdb[column].tolist(), column
    assert (on_spark["scored_at"] == pd.Timestamp(scored_at)).all()
    # Scoring the month again replaces its rows, as on DuckDB.
    assert marts.score_month(session, MONTH, model_text, scorer.make, scored_at) == written


def _with_value(source: Path, target: Path, column: str, value: str) -> Path:
    """The delivery with one field of its third record replaced."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.loc[2, column] = value
    frame.to_csv(target, index=False)
    return target


@pytest.mark.parametrize(
    ("column", "value"),
    [("CNT_CHILDREN", "1.5"), ("AMT_CREDIT", "1_000"), ("AMT_CREDIT", "1.5d"), ("TARGET", "2")],
)
def test_spark_refuses_what_the_contract_refuses_and_writes_nothing(
    spark_month, deliveries_dir, tmp_path, column, value
):
    session, root = spark_month
    before = session.table("raw.applications").count()
    bad = _with_value(deliveries_dir / "20201201.csv", tmp_path / "20201201.csv", column, value)
    with pytest.raises(DeliveryRejected) as rejected:
        load_application_file(session, bad, root / "quarantine")
    problems = rejected.value.report.problems
    assert problems and problems[0].line == 4, [problem.describe() for problem in problems]
    assert problems[0].column == column
    assert not bad.exists() and rejected.value.quarantined_file.exists()
    assert session.table("raw.applications").count() == before
    shutil.rmtree(root / "quarantine")
