"""A month on local Spark equals the same month on DuckDB: through Dagster, and through the engine.

October runs through Dagster with `CREDIT_ENGINE=spark` in a process of its own (the definitions
read the dbt project parsed for Spark), from the inbox and run config of the session's DuckDB
October (`october_run`): every step of the month on Spark (loaded by Spark's CSV reader against
the contract, built by the one dbt project on the `spark` target, snapshotted, trained, scored by
`mapInPandas` with the model's text broadcast, monitored, copied out), then what it left compared
with DuckDB's. A Spark session of this process then opens the same tables for what only the
engine shows: feature rows and scores value for value, corrected outcomes in the next month's
training set, refused files, the load ledger.

One JVM serves both processes: this one starts it, the month's process joins it, as PySpark
joins the JVM spark-submit started (`$PYSPARK_GATEWAY_PORT`), and stops its Spark context once
the run has ended. So this process's tests run in a JVM whose code the month compiled (a first
read of the feature mart took 17 s in a JVM of its own, 2 s in a warm one), and one JVM starts,
not two. (That `spark_session` starts a JVM of its own with the same settings is
tests/assets/test_engine_setting.py's to show.)
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from unittest import mock

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dbt.cli.main import dbtRunner
from py4j.java_gateway import JavaObject
from pyspark import SparkConf, SparkContext
from pyspark.java_gateway import launch_gateway

from assets.dagster_instance import dagster_instance
from assets.dbt_project import engine_folder
from assets.engines import DuckDBEngine, SparkEngine
from ml.dataset import file_fingerprint
from ml.model_store import MODEL_FILE, load_model_text
from ml.scoring import DEFAULT_POLICY
from tests.conftest import data_directory_with_deliveries, run_dbt
from tests.system.conftest import NOVEMBER, OCTOBER, copy_of, quick_model, recorded_run
from warehouse.database import connect
from warehouse.ingestion.ledger import unbuilt_deliveries
from warehouse.ingestion.loader import DeliveryRejected
from warehouse.paths import DBT_PROJECT_DIR, DataPaths
from warehouse.publishing.bi_copy import SERVED_TABLES, SERVING_DATABASE
from warehouse.publishing.outbox_csv import outbox_file_name
from warehouse.spark import delivery_load, marts
from warehouse.spark.session import COMPILE_HUGE_METHODS, spark_folder, spark_session, spark_settings

RUN_MONTH = """
import json, sys
from datetime import date
from pyspark import SparkContext
from assets.month_runs import run_month
from warehouse.paths import DataPaths

run = run_month(date.fromisoformat(sys.argv[1]), DataPaths.from_env(), json.loads(sys.argv[2]))
# The JVM stays (the test process started it): its next Spark context is that process's, one at a time.
context = SparkContext._active_spark_context
assert context is not None, "the month's run left no Spark context in this process"
context.stop()
print(json.dumps({"run_id": run.result.run_id, "success": run.success}))
"""
# The labels of the month's model: the models that build them, run again once corrections are loaded.
LABEL_MODELS = ["stg_home_credit__outcomes", "fct_application_labels", "int_labels_known_today"]


# Thousands of rows, on a machine the other test processes keep busy: garbage collection on parallel threads,
# and compiling Spark's huge generated methods, cost more CPU than they save here. `+DontCompileHugeMethods`
# undoes the product's COMPILE_HUGE_METHODS (worth it at a history's size): of the two, the JVM takes the last.
# The Tier4 thresholds, 13 to 33 times the JVM's defaults, leave to C2 (the optimising compiler) only code that
# runs for long: in this module's few minutes, compiling the rest cost more than it saved (C1 alone: 5 x slower,
# 4 x these thresholds: no better). None changes a result. Measured on this module alone, the JVM's CPU: 234 s
# with the first two options, 191 s with all (C2's threads 82 s -> 30 s).
SMALL_DATA_JVM_OPTIONS = " ".join(
    [
        "-XX:+UseSerialGC",
        "-XX:+DontCompileHugeMethods",
        "-XX:Tier4InvocationThreshold=100000",
        "-XX:Tier4MinInvocationThreshold=20000",
        "-XX:Tier4CompileThreshold=200000",
        "-XX:Tier4BackEdgeThreshold=1000000",
    ]
)

# Spark writes Java for each query (a stage's code, each expression's) and compiles it, and the JIT then compiles
# that: on thousands of rows, much of what a query costs. Evaluated as written instead: a deliberate difference
# from the product, which keeps the generated code (worth it at a history's size). Spark's own tests hold both ways
# of evaluating every expression to one result, and the product's settings that touch generated code are about
# speed only. Measured on this module alone, twice each way: 272 and 275 s of CPU generated, 252 and 257 s not.
# `CREDIT_TEST_SPARK_GENERATED_CODE=1` runs it as the product does (it passed so on 2026-12-05).
SMALL_DATA_SQL_SETTINGS = (
    {}
    if os.environ.get("CREDIT_TEST_SPARK_GENERATED_CODE")
    else {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
)


@pytest.fixture(scope="session")
def spark_data(deliveries_dir, tmp_path_factory) -> DataPaths:
    return data_directory_with_deliveries(deliveries_dir, tmp_path_factory.mktemp("spark_october") / "data")


@pytest.fixture(scope="session")
def spark_jvm(spark_data) -> dict[str, str]:
    """This process's JVM, started with the Spark settings of the month's data directory, and the
    environment in which another process's PySpark joins it (as PySpark joins the JVM spark-submit started)."""
    assert SparkContext._gateway is None, "this process joined a JVM already: it would not be the month's"
    spark_folder(spark_data.root).mkdir(parents=True, exist_ok=True)
    settings = spark_settings(spark_data.root)
    assert settings["spark.driver.extraJavaOptions"].endswith(COMPILE_HUGE_METHODS)
    settings["spark.driver.extraJavaOptions"] += " " + SMALL_DATA_JVM_OPTIONS
    settings.update(SMALL_DATA_SQL_SETTINGS)  # the month's session, and this process's, read them from the JVM
    gateway = launch_gateway(SparkConf(loadDefaults=False).setAll(list(settings.items())))
    yield {
        "PYSPARK_GATEWAY_PORT": str(gateway.java_parameters.port),
        "PYSPARK_GATEWAY_SECRET": gateway.java_parameters.auth_token,
    }
    gateway.shutdown()
    gateway.proc.stdin.close()  # the JVM ends when its launcher's pipe closes
    gateway.proc.wait(timeout=60)


# Of the session's scope, like `october_run`, so that it is set up first (pytest sets up the wider scope
# first): Spark's month runs while another process builds DuckDB's October, not after it.
@pytest.fixture(scope="session")
def spark_october(spark_data, spark_jvm) -> tuple[DataPaths, str]:
    environment = {**os.environ, "CREDIT_DATA_DIR": str(spark_data.root), "CREDIT_ENGINE": "spark", **spark_jvm}
    finished = subprocess.run(
        [sys.executable, "-c", RUN_MONTH, OCTOBER.isoformat(), json.dumps(quick_model())],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr[-5000:]
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])
    assert outcome["success"], (spark_data.logs, finished.stdout[-5000:])
    return spark_data, outcome["run_id"]


@pytest.fixture(scope="module")
def spark_month(spark_october, spark_jvm) -> SparkEngine:
    """The Spark run's tables, opened by this process once the run's own process has ended, in the run's JVM."""
    paths, _ = spark_october
    with mock.patch.dict(os.environ, spark_jvm):
        session = spark_session(paths.root)
    assert {name: session.conf.get(name) for name in SMALL_DATA_SQL_SETTINGS} == SMALL_DATA_SQL_SETTINGS
    # The training set reaches the driver in pieces of 5,000 rows.
    engine = SparkEngine(paths, session, training_piece_rows=5_000)
    yield engine
    engine.session.stop()


@pytest.fixture(scope="module")
def duckdb_month(october_run, tmp_path_factory) -> DuckDBEngine:
    """A copy of the session's DuckDB October, to write to."""
    return DuckDBEngine(copy_of(october_run.paths, tmp_path_factory.mktemp("duckdb_month") / "data"))


def _run_dbt_on_spark(engine: SparkEngine, command: list[str]):
    """dbt in this process, on the `spark` target: dbt-spark's `session` method joins the engine's session."""
    previous = os.environ.get("CREDIT_DATA_DIR")
    os.environ["CREDIT_DATA_DIR"] = str(engine.paths.root)
    try:
        # The run's own target folder: its parse is reused (the same project, target and vars).
        target = str(engine.paths.dbt_target / engine_folder("features", engine.name))
        result = dbtRunner().invoke(
            [
                *command,
                *("--target", engine.dbt_target, "--project-dir", str(DBT_PROJECT_DIR)),
                *("--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", target, "--log-path", target),
            ]
        )
    finally:
        if previous is None:
            os.environ.pop("CREDIT_DATA_DIR")
        else:
            os.environ["CREDIT_DATA_DIR"] = previous
    assert result.success, result.exception or [str(each.message) for each in result.result if each.status != "pass"]
    return result.result


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
        assert {name: spark_values[name] for name in figures} == {name: duckdb_values[name] for name in figures}
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
    # File for file, the same columns of the same types: a BI tool reads one schema whichever engine wrote it.
    # (Nullability aside: DuckDB marks a column no row can leave empty; Spark does not.)
    roots = (october_run.paths.serving, spark_october[0].serving)
    files = [sorted(path.relative_to(root) for path in root.rglob("*.parquet")) for root in roots]
    assert files[1] == files[0] and len(files[0]) == len(SERVED_TABLES)
    for file in files[0]:
        on_duckdb, on_spark = ([(f.name, f.type) for f in pq.read_schema(root / file)] for root in roots)
        assert on_spark == on_duckdb, file
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
        frame = serving.table(name).df()  # a view's name, not SQL text
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


def test_spark_builds_the_same_feature_rows(october_run, spark_month):
    with connect(october_run.paths.warehouse, read_only=True) as connection:
        on_duckdb = connection.sql(
            "select * exclude (loaded_at) from marts.fct_application_features order by sk_id_curr"
        ).df()
        unseen = connection.execute("select count(*) from monitoring.unseen_levels").fetchone()[0]
    # Through Arrow, as the engine moves the training set: PySpark's row-by-row `toPandas` took 12 s here.
    on_spark = spark_month.session.sql("select * from marts.fct_application_features order by sk_id_curr").toArrow()
    on_spark = on_spark.to_pandas()
    on_spark = on_spark.loc[:, list(on_duckdb.columns)]
    assert len(on_duckdb) > 20_000 and on_duckdb["application_month"].notna().sum() > 500
    for frame in (on_spark, on_duckdb):
        frame["application_month"] = pd.to_datetime(frame["application_month"]).dt.strftime("%Y-%m-%d")
    # Values exactly equal, whatever the dtypes: a whole-number column may be int32 from one engine and,
    # missing values and all, float64 through the other's Arrow.
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, check_exact=True)
    assert spark_month.session.table("monitoring.unseen_levels").count() == unseen


def test_spark_monitors_the_month_as_duckdb_does(october_run, spark_month):
    """Drift, fairness, performance and the warnings drawn from them: the same figures and sentences."""
    compared = {}
    with connect(october_run.paths.warehouse, read_only=True) as connection:
        for table, key in MONITORING.items():
            on_duckdb = connection.table(f"monitoring.{table}").df()  # a table's name, not SQL text
            on_spark = spark_month.session.table(f"monitoring.{table}").toPandas()
            on_duckdb, on_spark = (_comparable(frame, key) for frame in (on_duckdb, on_spark.loc[:, on_duckdb.columns]))
            # Figures rounded to six places by each engine: a half may round either way.
            pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, rtol=0, atol=2e-6, obj=table)
            compared[table] = on_duckdb
    # What was compared is the month's monitoring, not empty tables (its warnings, by the unit tests below).
    drift, fairness, performance = compared["drift"], compared["fairness"], compared["performance"]
    assert set(drift["subject_kind"]) == {"numeric", "categorical", "score"} and len(drift) > 100
    assert drift["psi"].notna().all() and fairness["labelled"].sum() > 500
    assert performance["auc"].notna().all()
    assert (compared["monitoring_months_evaluated"]["application_month"] == "2020-10-01").all()


def test_the_monitoring_unit_tests_pass_on_spark(spark_month):
    """Their fixtures hold every kind of warning (a drift, a fairness ratio, a realised AUC, a new value):
    each sentence, thousands grouped and quotes quoted, as DuckDB writes it."""
    results = _run_dbt_on_spark(spark_month, ["test", "--select", "test_type:unit,path:models/monitoring"])
    assert {result.node.name for result in results} >= {"test_monitoring_warnings_decide_each_kind_and_say_it_in_words"}
    assert len(results) >= 3 and all(result.status == "pass" for result in results)


def test_spark_scores_the_month_as_duckdb_does(october_run, spark_month):
    """Runs after the comparisons of what the runs left: it scores October again, on Spark."""
    with connect(october_run.paths.warehouse, read_only=True) as connection:
        on_duckdb = connection.execute(
            "select * from scoring.predictions where application_month = ? order by sk_id_curr", [OCTOBER]
        ).df()
    on_spark = marts.predictions(spark_month.session, OCTOBER)

    assert on_spark["sk_id_curr"].tolist() == on_duckdb["sk_id_curr"].tolist() and len(on_duckdb) > 500
    np.testing.assert_allclose(on_spark["default_probability"], on_duckdb["default_probability"], rtol=0, atol=1e-9)
    decided = ["risk_grade", "decision", "model_version", "review_from", "decline_from"]
    reasons = [f"{kind}_{slot}" for kind in ("reason_code", "reason") for slot in range(1, 5)]
    for column in decided + reasons:
        assert on_spark[column].tolist() == on_duckdb[column].tolist(), column
    assert on_spark["reason_1"].notna().all()
    assert on_spark["scored_at"].nunique() == 1  # one time for the whole month, as on DuckDB
    # Scoring the month again replaces its rows, as on DuckDB; a month without applications is an error.
    model_text, card = load_model_text(spark_month.paths.models, on_spark["model_version"].iloc[0])
    # Once it returns, this process holds none of the Java objects of the scoring's queries (py4j then lets
    # the JVM free them), even while Python collects no reference cycles by itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect()  # what earlier queries left: the scoring's own collection must not hide what it keeps
        before = _java_objects_held()
        assert spark_month.score_month(OCTOBER, model_text, card, DEFAULT_POLICY) == len(on_duckdb)
        left = _java_objects_held() - before
        assert left <= 0, f"the scoring left {left} Java objects held by this process"
    finally:
        if collecting:
            gc.enable()
    with pytest.raises(ValueError, match="no applications delivered for 2021-03"):
        spark_month.score_month(date(2021, 3, 1), model_text, card, DEFAULT_POLICY)
    assert spark_month.session.table("scoring.predictions").count() == len(on_duckdb)


def _java_objects_held() -> int:
    return sum(isinstance(each, JavaObject) for each in gc.get_objects())


class Refused(Exception):
    pass


def test_a_gate_that_refuses_leaves_the_month_as_it_was(duckdb_month, spark_month):
    """The champion's gate is asked with the DuckDB file locked, before either engine writes a score."""

    def refuse(connection: duckdb.DuckDBPyConnection) -> None:
        assert connection.execute("select count(*) from scoring.model_registry").fetchone()[0] >= 1
        raise Refused

    before = marts.predictions(spark_month.session, OCTOBER)
    model_text, card = load_model_text(spark_month.paths.models, before["model_version"].iloc[0])
    with connect(duckdb_month.paths.warehouse, read_only=True) as connection:
        scored_at = connection.execute("select max(scored_at) from scoring.predictions").fetchone()[0]
    for engine in (duckdb_month, spark_month):
        with pytest.raises(Refused):
            engine.score_month(OCTOBER, model_text, card, DEFAULT_POLICY, gate=refuse)
    pd.testing.assert_frame_equal(marts.predictions(spark_month.session, OCTOBER), before)
    with connect(duckdb_month.paths.warehouse, read_only=True) as connection:
        assert connection.execute("select max(scored_at) from scoring.predictions").fetchone()[0] == scored_at


@pytest.fixture(scope="module")
def corrected(deliveries_dir, duckdb_month, spark_month, tmp_path_factory):
    """Corrected outcomes of 300 history applications, dated October, loaded on each engine and the labels rebuilt.

    Known from October on: November's training set holds them, October's labels replaced.
    """
    folder = tmp_path_factory.mktemp("outcomes")
    history = pd.read_csv(deliveries_dir / "initial.csv", usecols=["SK_ID_CURR", "TARGET"]).head(300)
    history["TARGET"] = 1 - history["TARGET"]
    history.to_csv(folder / "outcomes_20201001.csv", index=False)
    engines = (duckdb_month, spark_month)
    for engine in engines:
        assert engine.load_delivery(folder / "outcomes_20201001.csv").status == "loaded"
    unbuilt_before = [_unbuilt(engine) for engine in engines]
    command = ["run", "--select", *LABEL_MODELS]
    result = run_dbt(command, duckdb_month.paths.root, duckdb_month.paths.dbt_target / "features")
    assert result.returncode == 0, result.stdout[-3000:]
    _run_dbt_on_spark(spark_month, command)
    summaries = tuple(engine.write_training_set(NOVEMBER, folder / f"{engine.name}.parquet") for engine in engines)
    return summaries, unbuilt_before, [_unbuilt(engine) for engine in engines]


def _unbuilt(engine) -> list[str]:
    """The deliveries of November's training set loaded after the engine's marts were built."""
    with connect(engine.paths.warehouse, read_only=True) as connection:
        unbuilt = unbuilt_deliveries(connection, NOVEMBER, engine.built_deliveries(NOVEMBER))
    assert unbuilt.unrecorded == []
    return unbuilt.stale


def test_spark_snapshots_the_same_training_set_with_corrected_outcomes(corrected):
    (on_duckdb, on_spark), unbuilt_before, unbuilt_after = corrected
    # Loaded, not yet built: on either engine the training step would refuse, naming the file.
    assert unbuilt_before == [["outcomes_20201001.csv"]] * 2 and unbuilt_after == [[], []]
    assert on_spark.rows == on_duckdb.rows > 20_000
    assert on_spark.latest_month == OCTOBER
    assert on_spark.label_deliveries == ("20201001.csv", "initial.csv", "outcomes_20201001.csv")
    assert on_spark.fingerprint == on_duckdb.fingerprint


def test_spark_refuses_an_outcome_for_an_application_never_delivered(spark_month, corrected, tmp_path):
    outcomes = tmp_path / "outcomes_20201201.csv"
    pd.DataFrame({"SK_ID_CURR": [1], "TARGET": [0]}).to_csv(outcomes, index=False)
    with pytest.raises(DeliveryRejected) as rejected:
        spark_month.load_delivery(outcomes)
    assert [problem.check for problem in rejected.value.report.problems] == ["unknown_id"]
    assert spark_month.session.table("raw.outcomes").count() == 300


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


def test_spark_refuses_what_the_contract_refuses_and_writes_nothing(spark_month, deliveries_dir, tmp_path, monkeypatch):
    """A Java-style `1.5d`, which Spark's own cast would read as 1.5, and an id repeated in another form
    (`100` and `100.0` are one id to the contract): each found by Spark, and named with its line, as the
    DuckDB loader names it. One file for both, each checked on its own: a load here is seconds of Spark jobs.
    """
    column, value = "AMT_CREDIT", "1.5d"
    found_by_spark = []  # what Spark's checks found, before the DuckDB checker's report replaces it with lines
    reject = delivery_load._reject

    def spied(path, found, folder):
        found_by_spark.extend(found)
        return reject(path, found, folder)

    monkeypatch.setattr(delivery_load, "_reject", spied)
    before = spark_month.session.table("raw.applications").count()
    frame = pd.read_csv(deliveries_dir / "20201201.csv", dtype=str, keep_default_na=False)
    frame.loc[2, column] = value  # line 4
    frame.loc[7, "SK_ID_CURR"] = frame.loc[6, "SK_ID_CURR"] + ".0"  # lines 8 and 9
    bad = tmp_path / "20201201.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(DeliveryRejected) as rejected:
        spark_month.load_delivery(bad)
    assert sorted((problem.check, problem.column) for problem in found_by_spark) == [
        ("bad_value", column),
        ("duplicate_id", "SK_ID_CURR"),
    ]
    problems = rejected.value.report.problems
    assert [(problem.check, problem.line, problem.column) for problem in problems] == [
        ("bad_value", 4, column),
        ("duplicate_id", 8, "SK_ID_CURR"),
    ], [problem.describe() for problem in problems]
    assert not bad.exists() and rejected.value.quarantined_file.exists()
    assert spark_month.session.table("raw.applications").count() == before
    with connect(spark_month.paths.warehouse, read_only=True) as connection:
        recorded = connection.execute(
            "select status, message from raw.load_ledger where delivery_file = ? order by loaded_at desc limit 1",
            [bad.name],
        ).fetchone()
    assert recorded[0] == "rejected" and column in recorded[1]
    shutil.rmtree(spark_month.paths.quarantine)


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
    duckdb_month, spark_month, deliveries_dir, tmp_path, monkeypatch
):
    """A no-break space around text and a tab around a number are padding to DuckDB: so to Spark.
    What is written is the read that was checked, kept by Spark, not the file read again.

    Runs last: it loads December on both engines, after the month's marts were compared.
    """
    written_from = []
    contract_frame = delivery_load._contract_frame

    def spied(spark, view, *arguments):
        written_from.append((view, spark.catalog.isCached(view)))
        return contract_frame(spark, view, *arguments)

    monkeypatch.setattr(delivery_load, "_contract_frame", spied)
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
    [(view, cached)] = written_from
    assert cached and not spark_month.session.catalog.tableExists(view), "kept while checked and written, then let go"
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


def test_spark_refuses_to_score_a_month_whose_features_were_not_built(spark_month):
    """December is in raw.applications (the test above) and not in the feature mart: run dbt first."""
    before = spark_month.session.table("scoring.predictions").count()
    model_text, card = load_model_text(
        spark_month.paths.models, marts.predictions(spark_month.session, OCTOBER)["model_version"].iloc[0]
    )
    with pytest.raises(ValueError, match="disagree on the applications of 2020-12"):
        spark_month.score_month(date(2020, 12, 1), model_text, card, DEFAULT_POLICY)
    assert spark_month.session.table("scoring.predictions").count() == before


def test_spark_refuses_to_score_while_a_load_is_unfinished(spark_month):
    """A load's `loading` row last (a crash mid-overwrite, or a load under way): its partition may be partial."""
    version = marts.predictions(spark_month.session, OCTOBER)["model_version"].iloc[0]
    model_text, card = load_model_text(spark_month.paths.models, version)
    begun = (
        "insert into raw.load_ledger select delivery_file, kind, delivery_month, 'loading', null, sha256,"
        " source_path, null, loaded_at + interval 1 hour from raw.load_ledger"
        " where delivery_file = ? and status = 'loaded'"
    )
    with connect(spark_month.paths.warehouse) as connection:
        connection.execute(begun, ["20201001.csv"])
    with pytest.raises(RuntimeError, match="20201001.csv: a load began and has not finished"):
        spark_month.score_month(OCTOBER, model_text, card, DEFAULT_POLICY)
