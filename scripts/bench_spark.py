"""`make bench-spark`: one month on each engine of `assets/engines.py`, step by step, in one command.

On the same generated files (Home Credit's size unless `--rows`), in a fresh data directory each:
load the history and the month, build staging, labels and features with dbt, snapshot the
month's training set, and score the month with one model (trained once, cheaply, from the
DuckDB snapshot: the model is not what is compared). Spark runs `local[2]`, in this process's
JVM (dbt-spark's `session` method), so its figures carry Spark's start-up and its scheduling
on one machine: what a lender pays before a cluster pays back.

Prints a table of seconds per step and Spark's ratio to DuckDB, and writes `bench_spark.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from assets.engines import DuckDBEngine, SparkEngine  # noqa: E402
from ml.model_store import load_model_text, save_model  # noqa: E402
from ml.scoring import DEFAULT_POLICY  # noqa: E402
from ml.training import train_model  # noqa: E402
from ml.training_config import TrainingConfig  # noqa: E402
from ml.training_data import TrainingData  # noqa: E402
from warehouse.paths import DBT_PROJECT_DIR, DataPaths, dbt_executable  # noqa: E402

MONTH = date(2020, 10, 1)
FILES = ("initial.csv", "20201001.csv")
MODELS = ["staging", "intermediate", "marts"]
CHEAP = TrainingConfig(n_trials=1, tuning_rows=5_000, max_rounds=100, early_stopping_rounds=10)


def _dbt_arguments(target: str, root: Path) -> list[str]:
    folder = str(root / "dbt_target")
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return ["run", "--target", target, "--select", *MODELS, *project, "--target-path", folder, "--log-path", folder]


def _build_duckdb(engine: DuckDBEngine) -> None:
    # As a month run does: dbt in its own process, the warehouse file shared.
    environment = {**os.environ, "CREDIT_DATA_DIR": str(engine.paths.root)}
    subprocess.run([dbt_executable(), *_dbt_arguments("duckdb", engine.paths.root)], env=environment, check=True)


def _build_spark(engine: SparkEngine) -> None:
    from dbt.cli.main import dbtRunner

    os.environ["CREDIT_DATA_DIR"] = str(engine.paths.root)
    if not dbtRunner().invoke(_dbt_arguments("spark", engine.paths.root)).success:
        raise SystemExit("dbt run on the spark target failed")


def _run(engine, build, files: Path, work: Path, model: tuple[str, object] | None) -> dict[str, float]:
    seconds = {}

    def timed(step: str, action):
        started = time.perf_counter()
        result = action()
        seconds[step] = round(time.perf_counter() - started, 1)
        print(f"  {engine.name:6} {step:22} {seconds[step]:7.1f} s", flush=True)
        return result

    for name in FILES:
        timed(f"load {name}", lambda name=name: engine.load_delivery(files / name))
    timed("dbt staging + marts", lambda: build(engine))
    summary = timed("training set", lambda: engine.write_training_set(MONTH, work / f"{engine.name}.parquet"))
    if model is None:
        trained = train_model(TrainingData.from_parquet(summary.path), CHEAP, progress=lambda message: None)
        version = save_model(trained, MONTH, summary.fingerprint, CHEAP, work / "models").version
        model = load_model_text(work / "models", version)
    timed("score the month", lambda: engine.score_month(MONTH, model[0], model[1], DEFAULT_POLICY))
    return seconds, model, summary.fingerprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=307_511)
    parser.add_argument("--work-dir", type=Path, default=PROJECT / "data" / "bench_spark")
    arguments = parser.parse_args()
    work = arguments.work_dir.resolve()
    files = work / f"files_{arguments.rows}"
    if not (files / "initial.csv").exists():
        subprocess.run([sys.executable, "-m", "assets.command_line.main", "generate", "--rows", str(arguments.rows),
                        str(files)], check=True, cwd=PROJECT)  # fmt: skip
    for name in ("duckdb", "spark"):
        subprocess.run(["rm", "-rf", str(work / name)], check=True)
    started = time.perf_counter()
    duckdb_seconds, model, duckdb_fingerprint = _run(
        DuckDBEngine(DataPaths(work / "duckdb").create()), _build_duckdb, files, work, None
    )
    spark_started = time.perf_counter()
    spark = SparkEngine(DataPaths(work / "spark").create())
    start_up = round(time.perf_counter() - spark_started, 1)
    spark_seconds, _, spark_fingerprint = _run(spark, _build_spark, files, work, model)
    spark.session.stop()
    if spark_fingerprint != duckdb_fingerprint:
        raise SystemExit("the engines snapshotted different training sets")
    steps = [*duckdb_seconds, "total"]
    duckdb_seconds["total"] = round(sum(duckdb_seconds.values()), 1)
    spark_seconds["total"] = round(sum(spark_seconds.values()) + start_up, 1)
    print(f"\n{arguments.rows:,} applications generated; the history and one month loaded; Spark start {start_up} s")
    print(f"{'step':24}{'DuckDB s':>10}{'Spark s':>10}{'Spark / DuckDB':>16}")
    for step in steps:
        ratio = spark_seconds[step] / duckdb_seconds[step] if duckdb_seconds[step] else float("nan")
        print(f"{step:24}{duckdb_seconds[step]:>10.1f}{spark_seconds[step]:>10.1f}{ratio:>15.2f}x")
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "rows": arguments.rows,
        "spark_start_seconds": start_up,
        "duckdb": duckdb_seconds,
        "spark": spark_seconds,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "same_training_set": True,
    }
    (work / "bench_spark.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
