"""The Spark session the warehouse's Python steps and dbt-spark share.

dbt-spark's `session` method asks for `SparkSession.builder.getOrCreate()` in dbt's own
process: started here first, with the warehouse's folders, the same session serves both.
On one machine the catalog is a Hive metastore in Derby under the data directory, which one
process at a time may open; on a cluster, `$CREDIT_SPARK_MASTER` names the cluster and its
own metastore serves every process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

from warehouse.engine_setting import SPARK_FOLDER, EngineUnavailable
from warehouse.java_objects import freeze_what_lives_on
from warehouse.spark import PANDAS_WARNING

MASTER_VARIABLE = "CREDIT_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"
COMPILE_HUGE_METHODS = "-XX:-DontCompileHugeMethods"


def spark_folder(data_dir: Path) -> Path:
    """Tables (Parquet) and the local metastore, under the data directory like the DuckDB file."""
    return Path(data_dir) / SPARK_FOLDER


def spark_settings(data_dir: Path, master: str | None = None) -> dict[str, str]:
    """The settings of the warehouse's Spark session, the JVM's own among them.

    The JVM's own (its memory, its options, where the metastore is) count only where the JVM
    starts: in `spark_session` when it starts one, or in whatever started the JVM a process
    joins instead (PySpark's `$PYSPARK_GATEWAY_PORT`).
    """
    folder = spark_folder(data_dir).resolve()
    return {
        "spark.master": master or os.environ.get(MASTER_VARIABLE, DEFAULT_MASTER),
        "spark.app.name": "credit-default",
        "spark.sql.warehouse.dir": str(folder / "tables"),
        # The JIT compiles Spark's generated code however long: a contract check of 122 columns is one huge
        # method, which the JVM would otherwise interpret (a second load of the history took 1.3 x as long).
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder / 'metastore'} {COMPILE_HUGE_METHODS}",
        "spark.executor.extraJavaOptions": COMPILE_HUGE_METHODS,
        # The Python workers' own copy of the filter in warehouse/spark/__init__.py.
        "spark.executorEnv.PYTHONWARNINGS": f"ignore:{PANDAS_WARNING}:FutureWarning",
        # As dbt-spark sets it: a failed cast is null, as in the SQL DuckDB runs, not an error.
        "spark.sql.ansi.enabled": "false",
        # A delivery replaces its own partition of raw.applications and no other.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.session.timeZone": "UTC",
        # The driver receives the training set a piece at a time (`marts.training_row_pieces`).
        "spark.driver.memory": os.environ.get("CREDIT_SPARK_DRIVER_MEMORY", "2g"),
        # The contract's 122 columns, each checked in one aggregate, and the mart's 270 are past
        # Spark's default of 100 fields for generated code: interpreted, the load's checks took 1.5 x as long.
        "spark.sql.codegen.maxFields": "1000",
        # Run a task on the first free core: waiting up to 3 s for one "closer" to its data
        # (Spark's default) only idles a machine whose cores all see the same disk.
        "spark.locality.wait": os.environ.get("CREDIT_SPARK_LOCALITY_WAIT", "0s"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Months of thousands of rows, not of terabytes: a few shuffle partitions per core.
        "spark.sql.shuffle.partitions": os.environ.get("CREDIT_SPARK_SHUFFLE_PARTITIONS", "4"),
    }


def spark_session(data_dir: Path, master: str | None = None) -> SparkSession:
    folder = spark_folder(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # Executors run this Python, with this project's packages (LightGBM for scoring); on a cluster
    # `$PYSPARK_PYTHON` names the Python its nodes have the project installed in. PySpark reads the
    # variable itself, when the session starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    freeze_what_lives_on()  # before the process's first session: nothing of Spark's is frozen
    builder = SparkSession.builder.config(map=spark_settings(data_dir, master)).enableHiveSupport()
    try:
        session = builder.getOrCreate()
    except PySparkRuntimeError as error:
        if error.getCondition() != "JAVA_GATEWAY_EXITED":
            raise
        # No Java, or a JVM that cannot start as configured: not a failure a retry mends.
        raise EngineUnavailable(
            "Spark's JVM did not start: it needs Java 17 or later, on PATH or in JAVA_HOME"
            f" (JAVA_HOME={os.environ.get('JAVA_HOME', 'unset')}), and the memory it is given"
            " ($CREDIT_SPARK_DRIVER_MEMORY); Spark's own message is above"
        ) from error
    # getOrCreate returns a session already running in this process as it is: its tables are
    # wherever that one's are. One data directory's session per process, then.
    tables = session.conf.get("spark.sql.warehouse.dir", "").removeprefix("file:")
    if Path(tables).resolve() != folder / "tables":
        raise EngineUnavailable(f"this process's Spark session keeps its tables in {tables}, not under {data_dir}")
    session.sparkContext.setLogLevel("ERROR")
    return session
