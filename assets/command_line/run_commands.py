"""`credit run`, `credit train` and `credit demo`: months and models materialised through Dagster, in this process."""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import date

from assets.command_line.exit_codes import EXIT_FAILED
from assets.command_line.run_display import print_result, run_log_path, run_output
from assets.month_runs import MonthRun, run_month, train_month_ahead
from assets.partitions import monthly_partitions, partition_key
from assets.run_log import PYTHON_LOGGING
from ml.evaluation import auc
from ml.model_store import latest_card
from warehouse.database import connect
from warehouse.engine_setting import DEFAULT_ENGINE, engine_name
from warehouse.ingestion.delivery_names import add_months, parse_month
from warehouse.paths import DataPaths
from warehouse.publishing.predictions_table import monthly_summary, scored_with_labels
from warehouse.sample_data.generator import generate
from warehouse.sample_data.splitter import delivery_months, write_parts


def _model_run_config(trials: int | None) -> dict:
    return {} if trials is None else {"ops": {"credit_default_model": {"config": {"n_trials": trials}}}}


def _logged(what: str, month: date, paths: DataPaths, args: argparse.Namespace, start) -> tuple[MonthRun, float]:
    """Runs `start(month, paths, run_config)` with its log in a file of its own; returns the run and its seconds."""
    log_path = run_log_path(paths, month, "train" if what == "model" else "run")
    label = f"{month:%Y-%m}" + (" model" if what == "model" else "")
    doing = "training ahead" if what == "model" else "materialising"
    print(f"{label}: {doing} through Dagster; the full Dagster and dbt log goes to {log_path}", flush=True)
    started = time.perf_counter()
    with run_output(log_path, args.verbose):
        run = start(month, paths, {**PYTHON_LOGGING, **_model_run_config(args.trials)})
    seconds = time.perf_counter() - started
    print_result(run, label, seconds, log_path)
    return run, seconds


def _run_logged(month: date, paths: DataPaths, args: argparse.Namespace) -> tuple[MonthRun, float]:
    return _logged("month", month, paths, args, run_month)


def _train_logged(month: date, paths: DataPaths, args: argparse.Namespace) -> tuple[MonthRun, float]:
    return _logged("model", month, paths, args, train_month_ahead)


def run(args: argparse.Namespace) -> int:
    """The month's run; then, unless told not to, the next month's model trained ahead, as the daemon does."""
    month = parse_month(args.month)
    paths = DataPaths.from_env().create()
    month_run, _ = _run_logged(month, paths, args)
    if not month_run.success:
        return EXIT_FAILED
    next_month = add_months(month, 1)
    if args.no_train_ahead:
        return 0
    if not monthly_partitions.has_partition_key(partition_key(next_month)):
        print(f"{next_month:%Y-%m} has not begun: its model is trained once it has (credit train {next_month:%Y-%m})")
        return 0
    print()
    model_run, _ = _train_logged(next_month, paths, args)
    return 0 if model_run.success else EXIT_FAILED


def train(args: argparse.Namespace) -> int:
    """Month M's model trained, registered and gated from what is published up to M-1."""
    model_run, _ = _train_logged(parse_month(args.month), DataPaths.from_env().create(), args)
    return 0 if model_run.success else EXIT_FAILED


def _format_rate(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2%}"


def _format_auc(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def demo_table(paths: DataPaths, months: list[date], seconds: dict[date, float]) -> str:
    """One line per month: rows scored, mean probability, decline rate, AUCs, time taken."""
    lines = [
        f"{'month':<8} {'rows scored':>11} {'mean prob':>9} {'decline':>8} {'review':>7} "
        f"{'default':>8} {'OOT AUC':>8} {'valid AUC':>9} {'seconds':>8}  scored by",
    ]
    with connect(paths.warehouse, read_only=True) as connection:
        summary = monthly_summary(connection).set_index("application_month")
        for month in months:
            row = summary.loc[month]
            scored = scored_with_labels(connection, month).dropna(subset=["target"])
            card = latest_card(paths.models, month)
            out_of_time_auc = auc(scored["target"], scored["default_probability"].to_numpy())
            lines.append(
                f"{month:%Y-%m}  {int(row.rows_scored):>11,} {row.mean_probability:>9.4f} "
                f"{_format_rate(row.decline_rate):>8} {_format_rate(row.review_rate):>7} "
                f"{_format_rate(row.observed_default_rate):>8} {_format_auc(out_of_time_auc):>8} "
                f"{_format_auc(card.metrics['validation_auc']):>9} {seconds.get(month, float('nan')):>8.0f}"
                f"  {row.model_version}"
            )
    return "\n".join(lines)


def demo(args: argparse.Namespace) -> int:
    paths = DataPaths.from_env().create()
    started = time.perf_counter()
    print(f"generating {args.rows:,} applications into {paths.inbox} (seed {args.seed})", flush=True)
    generated = generate(rows=args.rows, seed=args.seed)
    write_parts(generated.frame, paths.inbox, generated.true_probability, generated.true_probability_without_sex)
    months = delivery_months()
    seconds: dict[date, float] = {}
    for number, month in enumerate(months, start=1):
        print(f"\n[{number}/{len(months)}] ", end="")
        month_run, seconds[month] = _run_logged(month, paths, args)
        if not month_run.success:
            print(f"{month:%Y-%m} failed; see the run in the Dagster UI (make ui)", file=sys.stderr)
            return EXIT_FAILED
        if month != months[-1]:
            # The next month's model, trained ahead as the daemon would: its run then only scores.
            model_run, _ = _train_logged(add_months(month, 1), paths, args)
            if not model_run.success:
                print(f"{add_months(month, 1):%Y-%m}'s model failed; see the run in the Dagster UI", file=sys.stderr)
                return EXIT_FAILED
    print()
    if engine_name() == DEFAULT_ENGINE:
        print(demo_table(paths, months, seconds))
    else:  # the table reads the scores in the DuckDB file
        print(f"every month scored on {engine_name()}; the scores BI reads are in {paths.serving}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; warehouse {paths.warehouse}")
    return 0
