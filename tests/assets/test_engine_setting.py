"""One setting names the engine; a run on another engine than the definitions were loaded for stops first."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import dagster as dg
import pytest

from assets.dagster_instance import dagster_instance
from assets.dbt_project import SETUP_TARGET, dbt_project, engine_folder, project_target_path
from assets.engines import DuckDBEngine, SparkEngine, warehouse_engine
from assets.raw_deliveries import raw_deliveries
from assets.resources import WarehouseResource
from warehouse.database import connect
from warehouse.engine_setting import (
    ENGINE_FILE,
    EngineMismatch,
    EngineUnavailable,
    engine_name,
    held_engine,
    pin_engine,
)
from warehouse.paths import DataPaths
from warehouse.spark.session import COMPILE_HUGE_METHODS, spark_folder


def test_the_engine_is_one_setting(tmp_path, monkeypatch):
    paths = DataPaths(tmp_path)
    assert engine_name({}) == "duckdb"
    assert isinstance(warehouse_engine(paths, {"CREDIT_ENGINE": " DuckDB "}), DuckDBEngine)
    with pytest.raises(ValueError, match="the engines are duckdb, spark"):
        engine_name({"CREDIT_ENGINE": "postgres"})
    # The resource's default is the setting, read when the definitions load.
    monkeypatch.setenv("CREDIT_ENGINE", "spark")
    assert WarehouseResource(data_dir=str(tmp_path)).engine == "spark"
    # Each engine's parse of the dbt project has a folder of its own; DuckDB's is where it always was.
    assert project_target_path() == SETUP_TARGET / "spark"
    assert engine_folder("features", "duckdb") == "features" and engine_folder("features", "spark") == "features_spark"


def test_a_run_on_another_engine_than_the_definitions_stops_before_loading(data_dir):
    assert dbt_project.target == "duckdb"  # as `make setup` and the tests load them
    with dagster_instance(data_dir) as instance:
        result = dg.materialize(
            [raw_deliveries],
            partition_key="2020-10-01",
            instance=instance,
            resources={"warehouse": WarehouseResource(data_dir=str(data_dir.root), engine="spark")},
            raise_on_error=False,
        )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "this run's engine is spark and the definitions were loaded for duckdb" in message
    assert "CREDIT_ENGINE=spark" in message
    assert (data_dir.inbox / "20201001.csv").exists()
    if data_dir.warehouse.exists():
        with connect(data_dir.warehouse, read_only=True) as connection:
            assert connection.execute("select count(*) from raw.load_ledger").fetchone()[0] == 0


def test_a_data_directory_keeps_the_engine_it_was_first_used_with(tmp_path, deliveries_dir):
    fresh = DataPaths(tmp_path / "fresh").create()
    pin_engine(fresh.root, fresh.warehouse, "duckdb")
    assert (fresh.root / ENGINE_FILE).read_text() == "duckdb\n"
    pin_engine(fresh.root, fresh.warehouse, "duckdb")  # again: agreed
    with pytest.raises(EngineMismatch, match="holds its tables on duckdb"):
        pin_engine(fresh.root, fresh.warehouse, "spark")
    # Loaded before the file existed: by DuckDB, the only engine then. Spark is refused, DuckDB pinned.
    loaded = DataPaths(tmp_path / "loaded").create()
    DuckDBEngine(loaded).load_delivery(deliveries_dir / "20201001.csv")
    with pytest.raises(EngineMismatch, match="CREDIT_ENGINE=duckdb"):
        warehouse_engine(loaded, {"CREDIT_ENGINE": "spark"})
    assert not (loaded.root / ENGINE_FILE).exists()
    assert isinstance(warehouse_engine(loaded, {}), DuckDBEngine)
    assert (loaded.root / ENGINE_FILE).read_text() == "duckdb\n"
    # A new data directory is Spark's from its first use.
    spark = DataPaths(tmp_path / "spark").create()
    pin_engine(spark.root, spark.warehouse, "spark")
    with pytest.raises(EngineMismatch, match="holds its tables on spark"):
        warehouse_engine(spark, {})
    # One Spark loaded before the file existed: its Spark folder says so.
    older = DataPaths(tmp_path / "older_spark").create()
    (older.root / "spark" / "tables").mkdir(parents=True)
    with pytest.raises(EngineMismatch, match="holds its tables on spark"):
        warehouse_engine(older, {})
    assert not (older.root / ENGINE_FILE).exists()
    # What a reading command goes by: the engine the tables are on, not this shell's variable.
    assert held_engine(older.root, older.warehouse) == "spark"
    assert held_engine(loaded.root, loaded.warehouse) == "duckdb"
    never = DataPaths(tmp_path / "never").create()
    assert held_engine(never.root, never.warehouse) == "duckdb"


def test_a_command_reading_duckdbs_scores_refuses_a_data_directory_held_on_spark(tmp_path, monkeypatch, capsys):
    from assets.command_line.main import main

    spark = DataPaths(tmp_path / "spark").create()
    with connect(spark.warehouse):  # a warehouse file, as every data directory has one
        pass
    pin_engine(spark.root, spark.warehouse, "spark")
    monkeypatch.setenv("CREDIT_DATA_DIR", str(spark.root))
    monkeypatch.delenv("CREDIT_ENGINE", raising=False)  # the variable unset: the directory decides
    for command in (["explain", "1"], ["backtest"]):
        assert main(command) != 0
        assert f"{spark.root} keeps them on spark: not available on spark yet" in capsys.readouterr().err, command


def test_spark_without_java_is_unavailable_not_a_failure_to_retry(tmp_path):
    """In a process of its own: this one may hold a Spark session already."""
    probe = (
        "import sys\n"
        "from warehouse.engine_setting import EngineUnavailable\n"
        "from warehouse.spark.session import spark_session\n"
        "try:\n"
        "    spark_session(sys.argv[1])\n"
        "except EngineUnavailable as error:\n"
        "    print(error)\n"
    )
    environment = {**os.environ, "JAVA_HOME": str(tmp_path / "no_java"), "PATH": "/usr/bin:/bin"}
    environment.pop("SPARK_HOME", None)
    finished = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "data")], env=environment, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Spark's JVM did not start: it needs Java 17 or later" in finished.stdout, finished.stderr[-2000:]


def test_a_spark_session_starts_its_jvm_with_the_warehouse_settings_and_a_jvm_that_ended_fails_without_retries(
    tmp_path,
):
    """The JVM's own settings count only where it starts: its memory, its options, where the metastore is.
    Once it has ended, the run's resource refuses the engine, and says so, rather than let a step retry in py4j's words.

    In a process of its own, which starts its JVM (Spark's month test starts one itself, to share it).
    """
    probe = (
        "import sys\n"
        "import dagster as dg\n"
        "from pyspark import SparkContext\n"
        "from assets.resources import WarehouseResource\n"
        "resource = WarehouseResource(data_dir=sys.argv[1], engine='spark')\n"
        "session = resource.warehouse_engine().session\n"
        "jvm = session.sparkContext._jvm\n"
        "print(jvm.java.lang.System.getProperty('derby.system.home'))\n"
        "print(jvm.java.lang.Runtime.getRuntime().maxMemory())\n"
        "print(' '.join(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()))\n"
        "print(session.conf.get('spark.sql.warehouse.dir'))\n"
        "SparkContext._gateway.proc.kill()\n"
        "SparkContext._gateway.proc.wait()\n"
        "try:\n"
        "    resource.warehouse_engine()\n"
        "except dg.Failure as failure:\n"
        "    print(failure.allow_retries, failure.description)\n"
        "else:\n"
        "    print('no failure')\n"
    )
    # A JVM that lives seconds: its quick compiler alone and one garbage collector thread, which change
    # no setting asserted here, cost 19 s of CPU where the JVM's defaults cost 25.
    quick_jvm = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    environment = {
        **os.environ,
        "CREDIT_ENGINE": "spark",
        "CREDIT_SPARK_DRIVER_MEMORY": "600m",
        "JAVA_TOOL_OPTIONS": f"{os.environ.get('JAVA_TOOL_OPTIONS', '')} {quick_jvm}".strip(),
    }
    for name in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET"):
        environment.pop(name, None)
    data = tmp_path / "data"
    finished = subprocess.run([sys.executable, "-c", probe, str(data)], env=environment, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    metastore, heap, arguments, tables, refused = finished.stdout.strip().splitlines()[-5:]
    assert metastore == str(spark_folder(data) / "metastore")
    assert 400 * 2**20 < int(heap) <= 600 * 2**20  # the driver's memory, as the JVM reports its largest heap
    assert COMPILE_HUGE_METHODS in arguments.split()
    assert tables.removeprefix("file:") == str(spark_folder(data) / "tables")
    assert refused == (
        f"False this process's Spark JVM for {data} has ended, exit status -9: run the month again, in a new process,"
        " which starts a new one (if it ran out of memory, give it more: $CREDIT_SPARK_DRIVER_MEMORY)"
    )


def test_a_stopped_spark_session_is_refused_as_such(tmp_path):
    """The context stopped, the JVM running (or not ours to ask): a new process, not a retry here."""
    stopped = SimpleNamespace(sparkContext=SimpleNamespace(_jsc=None, _gateway=None))
    engine = SparkEngine(DataPaths(tmp_path / "data"), session=stopped)
    with pytest.raises(EngineUnavailable, match="Spark session for .* was stopped: run the month again"):
        engine.check_usable()
