"""One month on local Spark equals the same month on DuckDB: feature rows, training set, scores.

The same deliveries go through each engine of `assets/engines.py`: loaded (on Spark by its
CSV reader, against the contract), built by the one dbt project (the `spark` target in
dbt-spark's `session` method, joining the Spark session started here), snapshotted as the
month's training set, and scored by the one model (on Spark by `mapInPandas`, the model's
text broadcast to the executors).
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dbt.cli.main import dbtRunner

from assets.engines import DuckDBEngine, SparkEngine
from ml.champion import CHAMPION
from ml.dataset import ID_COLUMN, read_training_rows
from ml.model_store import load_model_text, save_model, validation_scores
from ml.registry import DEFAULT_TOLERANCE, register
from ml.scoring import DEFAULT_POLICY
from ml.training import train_model
from ml.training_config import TrainingConfig
from ml.training_data import TrainingData
from tests.conftest import run_dbt
from warehouse.database import connect
from warehouse.ingestion.loader import DeliveryRejected
from warehouse.paths import DBT_PROJECT_DIR, DataPaths
from warehouse.publishing.bi_copy import SERVED_TABLES, SERVING_DATABASE
from warehouse.spark import marts
from warehouse.spark.session import spark_session

pytestmark = pytest.mark.slow

MONTH = date(2020, 11, 1)
# The history and the month before: November's training set holds October with October's labels.
DELIVERIES = ("initial.csv", "20201001.csv", "20201101.csv")
MODELS = ["staging", "intermediate", "marts", "deliveries"]
# Cheap but real: a few trees, one trial.
CONFIG = TrainingConfig(n_trials=1, tuning_rows=1_000, max_rounds=60, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def deliveries(deliveries_dir, tmp_path_factory) -> list[Path]:
    """The history, October, corrected outcomes of 300 history applications dated October, and November.

    The corrections are known from October on: November's training set holds them, October's labels replaced.
    """
    folder = tmp_path_factory.mktemp("outcomes")
    history = pd.read_csv(deliveries_dir / "initial.csv", usecols=["SK_ID_CURR", "TARGET"]).head(300)
    history["TARGET"] = 1 - history["TARGET"]
    history.to_csv(folder / "outcomes_20201001.csv", index=False)
    initial, october, november = (deliveries_dir / name for name in DELIVERIES)
    return [initial, october, folder / "outcomes_20201001.csv", november]


@pytest.fixture(scope="module")
def duckdb_month(deliveries, tmp_path_factory) -> DuckDBEngine:
    engine = DuckDBEngine(DataPaths(tmp_path_factory.mktemp("duckdb_month")).create())
    for path in deliveries:
        engine.load_delivery(path)
    result = run_dbt(["run", "--select", *MODELS], engine.paths.root, engine.paths.root / "dbt_target")
    assert result.returncode == 0, result.stdout[-3000:]
    return engine


@pytest.fixture(scope="module")
def spark_month(deliveries, tmp_path_factory) -> SparkEngine:
    paths = DataPaths(tmp_path_factory.mktemp("spark_month")).create()
    # The training set reaches the driver in five pieces.
    engine = SparkEngine(paths, spark_session(paths.root), training_piece_rows=5_000)
    for path in deliveries:
        assert engine.load_delivery(path).status == "loaded"
    _run_dbt_on_spark(engine, ["run", "--select", *MODELS])
    yield engine
    engine.session.stop()


def _run_dbt_on_spark(engine: SparkEngine, command: list[str]):
    """dbt in this process, on the `spark` target: dbt-spark's `session` method joins the engine's session."""
    previous = os.environ.get("CREDIT_DATA_DIR")
    os.environ["CREDIT_DATA_DIR"] = str(engine.paths.root)
    try:
        result = dbtRunner().invoke(
            [
                *command,
                "--target",
                engine.dbt_target,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(engine.paths.root / "dbt_target"),
                "--log-path",
                str(engine.paths.root / "dbt_target"),
            ]
        )
    finally:
        if previous is None:
            os.environ.pop("CREDIT_DATA_DIR")
        else:
            os.environ["CREDIT_DATA_DIR"] = previous
    assert result.success, result.exception or [str(each.message) for each in result.result if each.status != "pass"]
    return result.result


def _duckdb_features(paths: DataPaths) -> pd.DataFrame:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.sql(
            "select * exclude (loaded_at) from marts.fct_application_features order by sk_id_curr"
        ).df()


def test_spark_builds_the_same_feature_rows(duckdb_month, spark_month):
    on_duckdb = _duckdb_features(duckdb_month.paths)
    on_spark = spark_month.session.sql("select * from marts.fct_application_features order by sk_id_curr").toPandas()
    on_spark = on_spark.loc[:, list(on_duckdb.columns)]
    assert len(on_duckdb) > 20_000 and on_duckdb["application_month"].notna().sum() > 1_000
    for frame in (on_spark, on_duckdb):
        frame["application_month"] = pd.to_datetime(frame["application_month"]).dt.strftime("%Y-%m-%d")
    # Values exactly equal; a whole-number column may come as int32 from one and Int32 from the other.
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, check_exact=True)
    with connect(duckdb_month.paths.warehouse, read_only=True) as connection:
        unseen = connection.execute("select count(*) from monitoring.unseen_levels").fetchone()[0]
    assert spark_month.session.table("monitoring.unseen_levels").count() == unseen


@pytest.fixture(scope="module")
def training_sets(duckdb_month, spark_month, tmp_path_factory):
    folder = tmp_path_factory.mktemp("training_sets")
    return (
        duckdb_month.write_training_set(MONTH, folder / "duckdb.parquet"),
        spark_month.write_training_set(MONTH, folder / "spark.parquet"),
    )


def test_spark_snapshots_the_same_training_set(training_sets):
    on_duckdb, on_spark = training_sets
    assert on_spark.rows == on_duckdb.rows > 20_000
    assert on_spark.latest_month == date(2020, 10, 1)
    assert on_spark.label_deliveries == ("20201001.csv", "initial.csv", "outcomes_20201001.csv")
    assert on_spark.fingerprint == on_duckdb.fingerprint


def test_spark_refuses_an_outcome_for_an_application_never_delivered(spark_month, tmp_path):
    outcomes = tmp_path / "outcomes_20201201.csv"
    pd.DataFrame({"SK_ID_CURR": [1], "TARGET": [0]}).to_csv(outcomes, index=False)
    with pytest.raises(DeliveryRejected) as rejected:
        spark_month.load_delivery(outcomes)
    assert [problem.check for problem in rejected.value.report.problems] == ["unknown_id"]
    assert spark_month.session.table("raw.outcomes").count() == 300


@pytest.fixture(scope="module")
def month_model(duckdb_month, spark_month, training_sets, tmp_path_factory):
    """November's model, trained once from Spark's training set and registered in each engine's control file."""
    summary = training_sets[1]
    models = tmp_path_factory.mktemp("models")
    data = TrainingData.from_parquet(summary.path)
    trained = train_model(data, CONFIG, progress=lambda message: None)
    saved = save_model(trained, MONTH, summary.fingerprint, CONFIG, models)
    validation = validation_scores(models, saved.version)
    validation_rows = read_training_rows(data.parquet, validation[ID_COLUMN])
    for engine in (duckdb_month, spark_month):
        with connect(engine.paths.warehouse) as connection:
            decision = register(
                connection, saved, validation_rows, validation["probability"].to_numpy(), models, DEFAULT_TOLERANCE
            )
        assert decision["status"] == CHAMPION
    return load_model_text(models, saved.version)


@pytest.fixture(scope="module")
def scored(duckdb_month, spark_month, month_model) -> int:
    model_text, card = month_model
    written = duckdb_month.score_month(MONTH, model_text, card, DEFAULT_POLICY)
    assert spark_month.score_month(MONTH, model_text, card, DEFAULT_POLICY) == written > 500
    return written


def test_spark_scores_the_month_as_duckdb_does(duckdb_month, spark_month, month_model, scored):
    with connect(duckdb_month.paths.warehouse, read_only=True) as connection:
        on_duckdb = connection.execute(
            "select * from scoring.predictions where application_month = ? order by sk_id_curr", [MONTH]
        ).df()
    on_spark = marts.predictions(spark_month.session, MONTH)

    assert on_spark["sk_id_curr"].tolist() == on_duckdb["sk_id_curr"].tolist()
    np.testing.assert_allclose(on_spark["default_probability"], on_duckdb["default_probability"], rtol=0, atol=1e-9)
    decided = ["risk_grade", "decision", "model_version", "review_from", "decline_from"]
    reasons = [f"{kind}_{slot}" for kind in ("reason_code", "reason") for slot in range(1, 5)]
    for column in decided + reasons:
        assert on_spark[column].tolist() == on_duckdb[column].tolist(), column
    assert on_spark["reason_1"].notna().all()
    assert on_spark["scored_at"].nunique() == 1  # one time for the whole month, as on DuckDB
    # Scoring the month again replaces its rows, as on DuckDB; a month without applications is an error.
    model_text, card = month_model
    assert spark_month.score_month(MONTH, model_text, card, DEFAULT_POLICY) == scored
    with pytest.raises(ValueError, match="no applications delivered for 2021-03"):
        spark_month.score_month(date(2021, 3, 1), model_text, card, DEFAULT_POLICY)
    assert spark_month.session.table("scoring.predictions").count() == scored


# Each monitoring table's key, and the columns that differ by engine only in when the month was scored.
MONITORING = {
    "drift": ["application_month", "subject"],
    "fairness": ["application_month", "group_column", "group_value"],
    "performance": ["application_month"],
    "performance_by_grade": ["application_month", "risk_grade"],
    "monitoring_warnings": ["application_month", "warning_order"],
    "monitoring_months_evaluated": ["application_month"],
}
SCORED_AT = ["scored_at", "drift_scored_at"]


@pytest.fixture(scope="module")
def monitored(duckdb_month, spark_month, scored) -> None:
    """The month's monitoring models, built on each engine once the registry is published to it."""
    assert spark_month.publish_registry() == duckdb_month.publish_registry() == 1
    result = run_dbt(["run", "--select", "monitoring"], duckdb_month.paths.root, duckdb_month.paths.root / "dbt_target")
    assert result.returncode == 0, result.stdout[-3000:]
    _run_dbt_on_spark(spark_month, ["run", "--select", "monitoring"])


def test_the_monitoring_unit_tests_pass_on_spark(spark_month, monitored):
    """Their fixtures hold every kind of warning (a drift, a fairness ratio, a realised AUC, a new value):
    each sentence, thousands grouped and quotes quoted, as DuckDB writes it."""
    results = _run_dbt_on_spark(spark_month, ["test", "--select", "test_type:unit,path:models/monitoring"])
    assert {result.node.name for result in results} >= {"test_monitoring_warnings_decide_each_kind_and_say_it_in_words"}
    assert len(results) >= 3 and all(result.status == "pass" for result in results)


def test_spark_monitors_the_month_as_duckdb_does(duckdb_month, spark_month, monitored):
    """Drift, fairness, performance and the warnings drawn from them: the same figures and sentences."""
    compared = {}
    with connect(duckdb_month.paths.warehouse, read_only=True) as connection:
        for table, key in MONITORING.items():
            on_duckdb = connection.sql(f"select * from monitoring.{table}").df()
            on_spark = spark_month.session.table(f"monitoring.{table}").toPandas()
            on_duckdb, on_spark = (_comparable(frame, key) for frame in (on_duckdb, on_spark.loc[:, on_duckdb.columns]))
            # Figures rounded to six places by each engine: a half may round either way.
            pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, rtol=0, atol=2e-6, obj=table)
            compared[table] = on_duckdb
    # What was compared is the month's monitoring, not empty tables.
    drift, fairness, performance = compared["drift"], compared["fairness"], compared["performance"]
    assert set(drift["subject_kind"]) == {"numeric", "categorical", "score"} and len(drift) > 100
    assert drift["psi"].notna().all() and fairness["labelled"].sum() > 500
    assert performance["auc"].notna().all() and len(compared["monitoring_warnings"]) > 0
    assert (compared["monitoring_months_evaluated"]["application_month"] == "2020-11-01").all()


def test_spark_publishes_the_same_bi_copy(duckdb_month, spark_month, scored, monitored):
    """The files BI reads, through the serving database's views: the same rows from either engine."""
    engines = (duckdb_month, spark_month)
    on_duckdb, on_spark = (engine.publish_bi_copy(MONTH, engine.paths.serving) for engine in engines)
    assert on_spark == on_duckdb and on_duckdb["predictions"] == scored
    # File for file, the same columns of the same types: a BI tool reads one schema whichever engine wrote it.
    # (Nullability aside: DuckDB marks a column no row can leave empty; Spark does not.)
    serving = duckdb_month.paths.serving
    files = sorted(path.relative_to(serving) for path in serving.rglob("*.parquet"))
    assert len(files) == len(SERVED_TABLES)
    for file in files:
        on_duckdb, on_spark = ([(f.name, f.type) for f in pq.read_schema(e.paths.serving / file)] for e in engines)
        assert on_spark == on_duckdb, file
    for table in SERVED_TABLES:
        views = []
        for engine in engines:
            with duckdb.connect(str(engine.paths.serving / SERVING_DATABASE), read_only=True) as serving:
                # When each engine scored and registered differs; nothing else may.
                view = serving.sql(f"select * from {table.name}").df()
                views.append(view.drop(columns="registered_at", errors="ignore"))
        on_duckdb, on_spark = views
        assert list(on_spark.columns) == list(on_duckdb.columns), table.name
        # Sorted by every column that is neither a figure nor a list (the registry's score bins).
        key = [
            column
            for column in on_duckdb.columns
            if column not in SCORED_AT
            and not pd.api.types.is_float_dtype(on_duckdb[column])
            and not any(isinstance(value, np.ndarray | list) for value in on_duckdb[column])
        ]
        on_duckdb, on_spark = (_comparable(frame, key) for frame in views)
        pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, rtol=0, atol=2e-6, obj=table.name)


def _comparable(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    frame = frame.drop(columns=[column for column in SCORED_AT if column in frame])
    if "application_month" in frame:
        frame["application_month"] = pd.to_datetime(frame["application_month"]).dt.strftime("%Y-%m-%d")
    for column in frame.columns:  # a missing value is None or NA from one engine and NaN from the other
        if pd.api.types.is_bool_dtype(frame[column]) or not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        else:
            frame[column] = frame[column].astype("float64")
    return frame.sort_values(key).reset_index(drop=True)


def _with_value(source: Path, target: Path, column: str, value: str) -> Path:
    """The delivery with one field of its third record replaced."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.loc[2, column] = value
    frame.to_csv(target, index=False)
    return target


def test_spark_refuses_what_the_contract_refuses_and_writes_nothing(spark_month, deliveries_dir, tmp_path):
    """A Java-style `1.5d`, which Spark's own cast would read as 1.5."""
    column, value = "AMT_CREDIT", "1.5d"
    before = spark_month.session.table("raw.applications").count()
    bad = _with_value(deliveries_dir / "20201201.csv", tmp_path / "20201201.csv", column, value)
    with pytest.raises(DeliveryRejected) as rejected:
        spark_month.load_delivery(bad)
    problems = rejected.value.report.problems
    assert problems and problems[0].line == 4, [problem.describe() for problem in problems]
    assert problems[0].column == column
    assert not bad.exists() and rejected.value.quarantined_file.exists()
    assert spark_month.session.table("raw.applications").count() == before
    with connect(spark_month.paths.warehouse, read_only=True) as connection:
        recorded = connection.execute(
            "select status, message from raw.load_ledger where delivery_file = ? order by loaded_at desc limit 1",
            [bad.name],
        ).fetchone()
    assert recorded[0] == "rejected" and column in recorded[1]
    shutil.rmtree(spark_month.paths.quarantine)


def test_spark_refuses_an_id_repeated_in_another_form(spark_month, deliveries_dir, tmp_path):
    """`100` and `100.0` are one id to the contract: the file repeats it."""
    frame = pd.read_csv(deliveries_dir / "20201201.csv", dtype=str, keep_default_na=False)
    frame.loc[2, "SK_ID_CURR"] = frame.loc[1, "SK_ID_CURR"] + ".0"
    bad = tmp_path / "20201201.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(DeliveryRejected) as rejected:
        spark_month.load_delivery(bad)
    problems = rejected.value.report.problems
    assert [problem.check for problem in problems] == ["duplicate_id"] and problems[0].line in (3, 4)


def test_spark_refuses_a_quote_inside_a_field(spark_month, deliveries_dir, tmp_path):
    lines = (deliveries_dir / "20201201.csv").read_text().splitlines(keepends=True)
    identifier, target, _, rest = lines[3].split(",", 3)
    lines[3] = f'{identifier},{target},"Cash" loans,{rest}'
    bad = tmp_path / "20201201.csv"
    bad.write_text("".join(lines))
    with pytest.raises(DeliveryRejected) as rejected:
        spark_month.load_delivery(bad)
    assert rejected.value.report.problems[0].line == 4


def test_padding_reads_as_on_duckdb_and_a_reload_replaces_only_its_own_rows(
    duckdb_month, spark_month, deliveries_dir, tmp_path
):
    """A no-break space around text and a tab around a number are padding to DuckDB: so to Spark.

    Runs last: it loads December on both engines, after the month's marts were compared.
    """
    frame = pd.read_csv(deliveries_dir / "20201201.csv", dtype=str, keep_default_na=False)
    first = int(frame.loc[0, "SK_ID_CURR"])
    frame.loc[0, "NAME_CONTRACT_TYPE"] = "\u00a0Revolving loans\u00a0"
    frame.loc[0, "AMT_CREDIT"] = "\t123456.5"
    padded = tmp_path / "20201201.csv"
    frame.to_csv(padded, index=False)
    query = "select name_contract_type, amt_credit from raw.applications where sk_id_curr = ?"
    shutil.copy(padded, tmp_path / "copy.csv")
    duckdb_month.load_delivery(padded)
    with connect(duckdb_month.paths.warehouse, read_only=True) as connection:
        on_duckdb = connection.execute(query, [first]).fetchone()
    before = spark_month.session.table("raw.applications").count()
    shutil.copy(tmp_path / "copy.csv", padded)
    loaded = spark_month.load_delivery(padded)
    assert (loaded.status, loaded.rows) == ("loaded", len(frame))
    # The same content again is skipped, as on DuckDB: the load ledger is the same table.
    shutil.copy(tmp_path / "copy.csv", padded)
    assert spark_month.load_delivery(padded).status == "unchanged"
    # A correction of the file replaces its rows, and touches no other delivery's.
    frame.loc[1, "AMT_INCOME_TOTAL"] = "99999.5"
    frame.to_csv(padded, index=False)
    replaced = spark_month.load_delivery(padded)
    assert (replaced.status, replaced.rows) == ("replaced", len(frame))
    assert spark_month.session.table("raw.applications").count() == before + len(frame)
    with connect(spark_month.paths.warehouse, read_only=True) as connection:
        ledger = connection.execute(
            "select status from raw.load_ledger where delivery_file = ? and status <> ? order by loaded_at, status",
            ["20201201.csv", "rejected"],
        ).fetchall()
    # Each write bracketed: begun (`loading`), then finished; the unchanged file wrote nothing.
    assert [status for (status,) in ledger] == ["loaded", "loading", "loading", "replaced"]
    # A write begun and never finished (a crash mid-overwrite): the same content is written again, not skipped.
    with connect(spark_month.paths.warehouse) as connection:
        connection.execute(
            "insert into raw.load_ledger select delivery_file, kind, delivery_month, 'loading', null, sha256,"
            " source_path, null, loaded_at + interval 1 second from raw.load_ledger"
            " where delivery_file = ? and status = 'replaced'",
            ["20201201.csv"],
        )
    assert spark_month.load_delivery(padded).status == "replaced"
    on_spark = spark_month.session.sql(query.replace("?", ":id"), args={"id": first}).first()
    assert tuple(on_spark) == on_duckdb == ("Revolving loans", 123456.5)
