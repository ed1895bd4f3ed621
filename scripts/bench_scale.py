"""`make bench-scale`: the project at 1, 3 and 10 times Home Credit's size in one command: time and memory.

For each size k (a history of 307,511 x k applications less four months of 10,000 x k):
1. Generate the files (seeded; not timed).
2. Time DuckDB's bare read of the history file into an all-VARCHAR in-memory table, then
   `credit load initial.csv` (the contract check and the load), each in its own process.
3. Run the first month, 2020-10, which builds the features and trains its model in the run
   (preparation, not timed as a month run; its steps' memory is recorded).
4. Time `credit train 2020-11`: November's model trained ahead (training set, tuning, fits, gate).
5. Time `credit run 2020-11 --no-train-ahead`: the month run with that model (load, dbt,
   scoring, outbox, monitoring, BI copy).

Memory is each process's peak resident set (wait4's ru_maxrss) and, for the Dagster runs,
each step's own peak as `credit run` prints it (the steps share one process). The table goes
to the terminal and `bench_scale.json`, the plot to `--plot` (docs/bench_scale.png).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
REAL_ROWS, MONTH_ROWS = 307_511, 10_000
MEMORY_GOAL_GB, LOAD_GOAL = 4.0, 1.5
STEP_LINE = re.compile(r"^\d\d:\d\d:\d\d\s+(\w+)\s+(?:done in|failed).*?peak memory ([0-9.]+) (MB|GB)", re.M)
BARE_READ = """
import sys, time, duckdb
started = time.perf_counter()
connection = duckdb.connect(":memory:")
connection.execute("create table history as select * from read_csv(?, all_varchar = true)", [sys.argv[1]])
print(time.perf_counter() - started)
"""


def _timed(command: list[str], env: dict, log_path: Path) -> dict:
    """Run a command to completion: wall seconds, the process tree's peak RSS, each Dagster step's peak."""
    with open(log_path, "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed; see {log_path}")
    steps = {
        step: float(size) * (1 if unit == "GB" else 1 / 1024)
        for step, size, unit in STEP_LINE.findall(log_path.read_text())
    }
    # A step's own peak can exceed what wait4 saw: the steps reset the process's high-water mark.
    peak_gb = max([usage.ru_maxrss / 2**20, *steps.values()])
    return {"seconds": round(seconds, 1), "peak_gb": round(peak_gb, 2), "steps_peak_gb": steps}


def _generate(files: Path, scale: int, seed: int, env: dict, work: Path) -> None:
    rows, month_rows = REAL_ROWS * scale, MONTH_ROWS * scale
    marker = files / f".generated-{rows}-{month_rows}-{seed}"
    if marker.exists():
        return
    shutil.rmtree(files, ignore_errors=True)
    print(f"  generating {rows:,} applications, months of {month_rows:,} (seed {seed}; not timed)", flush=True)
    command = [_credit(), "generate", str(files), "--rows", str(rows), "--month-rows", str(month_rows)]
    _timed([*command, "--seed", str(seed)], env, work / f"generate_{scale}x.log")
    marker.touch()


def _credit() -> str:
    return str(Path(sys.executable).with_name("credit"))


def _one_size(scale: int, work: Path, seed: int, load_only: bool = False) -> dict:
    files, data = work / f"files_{scale}x", work / f"project_{scale}x"
    env = {**os.environ, "CREDIT_DATA_DIR": str(data)}
    _generate(files, scale, seed, env, work)
    shutil.rmtree(data, ignore_errors=True)
    (data / "inbox").mkdir(parents=True)
    history = files / "initial.csv"
    logs = work / f"logs_{scale}x"
    logs.mkdir(exist_ok=True)

    print(f"  DuckDB's bare read of {history.name} ({history.stat().st_size / 1e9:.2f} GB)", flush=True)
    bare = _timed([sys.executable, "-c", BARE_READ, str(history)], env, logs / "bare_read.log")
    print("  credit load initial.csv", flush=True)
    load = _timed([_credit(), "load", str(history)], env, logs / "load.log")
    if load_only:
        return {
            "scale": scale,
            "bare_read": bare,
            "load": load,
            "load_ratio": round(load["seconds"] / bare["seconds"], 2),
        }

    for name in ("20201001.csv", "20201101.csv"):
        shutil.copy(files / name, data / "inbox" / name)
    print("  credit run 2020-10 --no-train-ahead (preparation: trains 2020-10's model in the run)", flush=True)
    first = _timed([_credit(), "run", "2020-10", "--no-train-ahead"], env, logs / "run_2020-10.log")
    print("  credit train 2020-11", flush=True)
    train = _timed([_credit(), "train", "2020-11"], env, logs / "train_2020-11.log")
    print("  credit run 2020-11 --no-train-ahead", flush=True)
    month = _timed([_credit(), "run", "2020-11", "--no-train-ahead"], env, logs / "run_2020-11.log")
    return {
        "scale": scale,
        "history_rows": REAL_ROWS * scale - 4 * MONTH_ROWS * scale,
        "history_gb": round(history.stat().st_size / 1e9, 2),
        "bare_read": bare,
        "load": load,
        "load_ratio": round(load["seconds"] / bare["seconds"], 2),
        "first_month": first,
        "training": train,
        "month_run": month,
    }


def _steps_peak(result: dict) -> dict[str, float]:
    """Each step's largest peak over the runs of one size, and the history load as a step of its own."""
    peaks = {"history load": result["load"]["peak_gb"]}
    for run in ("first_month", "training", "month_run"):
        for step, peak in result[run]["steps_peak_gb"].items():
            peaks[step] = max(peak, peaks.get(step, 0.0))
    return peaks


def _print_table(results: list[dict], cores: int) -> None:
    print()
    print(f"make bench-scale, {datetime.now(UTC):%Y-%m-%d}, {cores} cores")
    header = ["", *(f"{r['scale']} x" for r in results)]
    rows = [
        ["history rows", *(f"{r['history_rows']:,}" for r in results)],
        ["history file GB", *(f"{r['history_gb']:.2f}" for r in results)],
        ["DuckDB bare read s", *(f"{r['bare_read']['seconds']:.1f}" for r in results)],
        ["credit load s", *(f"{r['load']['seconds']:.1f}" for r in results)],
        ["  load / bare read", *(f"{r['load_ratio']:.2f}" for r in results)],
        ["training ahead s", *(f"{r['training']['seconds']:.0f}" for r in results)],
        ["month run s (trained ahead)", *(f"{r['month_run']['seconds']:.0f}" for r in results)],
    ]
    steps = list(dict.fromkeys(step for r in results for step in _steps_peak(r)))
    rows.append(["peak memory GB, per process:", *("" for _ in results)])
    for step in steps:
        rows.append([f"  {step}", *(f"{_steps_peak(r).get(step, float('nan')):.2f}" for r in results)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
    largest = results[-1]
    worst_step, worst = max(_steps_peak(largest).items(), key=lambda item: item[1])
    print(
        f"at {largest['scale']} x: the largest step peak is {worst:.2f} GB ({worst_step}), "
        f"goal under {MEMORY_GOAL_GB:.0f} GB: {'met' if worst < MEMORY_GOAL_GB else 'NOT met'}; "
        f"the load takes {largest['load_ratio']:.2f} x DuckDB's bare read, goal at most {LOAD_GOAL}: "
        f"{'met' if largest['load_ratio'] <= LOAD_GOAL else 'NOT met'}"
    )


def _plot(results: list[dict], path: Path, cores: int) -> None:
    from matplotlib.figure import Figure

    scales = [r["scale"] for r in results]
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    times, memory = figure.subplots(1, 2)
    for label, key in (
        ("DuckDB bare read of the history", "bare_read"),
        ("credit load (history)", "load"),
        ("training ahead", "training"),
        ("month run (trained ahead)", "month_run"),
    ):
        times.plot(scales, [r[key]["seconds"] for r in results], marker="o", label=label)
    times.set(xlabel="size (x Home Credit)", ylabel="wall seconds", title="Time", xticks=scales)
    times.legend(fontsize=8)
    # The asset checks' steps only read a table: drawn, they hide the steps that matter.
    steps = [step for step in dict.fromkeys(s for r in results for s in _steps_peak(r)) if "__" not in step]
    for step in steps:
        memory.plot(scales, [_steps_peak(r).get(step) for r in results], marker="o", label=step)
    memory.axhline(MEMORY_GOAL_GB, color="grey", linestyle="--", linewidth=1)
    memory.text(
        scales[-1], MEMORY_GOAL_GB * 1.02, f"goal: under {MEMORY_GOAL_GB:.0f} GB a process", fontsize=8, ha="right"
    )
    memory.set(
        xlabel="size (x Home Credit)",
        ylabel="peak resident GB",
        title="Peak memory per step",
        xticks=scales,
        ylim=(0, MEMORY_GOAL_GB * 1.15),
    )
    memory.legend(fontsize=7, ncols=2, loc="lower right")
    figure.suptitle(f"make bench-scale, {datetime.now(UTC):%Y-%m-%d}, {cores} cores")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default=str(PROJECT / "data" / "bench_scale"), help="scratch folder")
    parser.add_argument("--scales", default="1,3,10", help="sizes to run, times Home Credit's (default 1,3,10)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plot", default=str(PROJECT / "docs" / "bench_scale.png"))
    parser.add_argument("--load-only", action="store_true", help="only the bare read and the load of each size")
    args = parser.parse_args()
    scales = [int(scale) for scale in args.scales.split(",")]
    if any(scale < 1 for scale in scales):
        parser.error("--scales are whole numbers of at least 1")
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    results = []
    for scale in scales:
        print(f"{scale} x Home Credit", flush=True)
        results.append(_one_size(scale, work, args.seed, args.load_only))
        name = "bench_scale_load.json" if args.load_only else "bench_scale.json"
        (work / name).write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.load_only:
        for result in results:
            print(
                f"{result['scale']:>3} x: bare read {result['bare_read']['seconds']:.1f} s, credit load "
                f"{result['load']['seconds']:.1f} s ({result['load_ratio']:.2f} x), "
                f"peak {result['load']['peak_gb']:.2f} GB"
            )
        return 0
    _print_table(results, cores)
    _plot(results, Path(args.plot), cores)
    print(f"plot: {args.plot}; figures: {work / 'bench_scale.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
