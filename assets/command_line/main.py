"""`credit`: generate, split and load deliveries; run a month or the whole demo through Dagster."""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from datetime import date
from pathlib import Path

from warehouse.database import WarehouseBusyError, WarehouseVersionError
from warehouse.ingestion.delivery_names import DeliveryNameError, parse_month
from warehouse.ingestion.loader import DeliveryError
from warehouse.paths import DataPaths

EXIT_REJECTED = 1  # the file broke the contract; it is in quarantine with its report
EXIT_USAGE = 2  # the command could not run: bad arguments, a missing file, a busy warehouse


def _generate(args: argparse.Namespace) -> int:
    from warehouse.sample_data.generator import generate
    from warehouse.sample_data.splitter import true_scores_dir, write_parts

    started = time.perf_counter()
    generated = generate(rows=args.rows, seed=args.seed)
    frame = generated.frame
    if args.drift:
        from warehouse.sample_data import drift_drill as drift

        month = parse_month(args.drift)
        frame = drift.drift_month(frame, month, args.seed)
        print(
            f"{month:%Y-%m} drifted: AMT_INCOME_TOTAL x {drift.INCOME_FACTOR:.3f}, NAME_HOUSING_TYPE "
            f"{drift.NEW_HOUSING_LEVEL!r} on {drift.NEW_HOUSING_SHARE:.0%} of rows, "
            f"{' and '.join(drift.LOWERED_EXTERNAL_SCORES)} x {drift.EXTERNAL_SCORE_FACTOR}; nothing else changed"
        )
    for path in write_parts(frame, Path(args.out_dir), generated.true_probability, generated.true_probability_without_sex):
        print(f"wrote {path}")
    print(f"{len(frame):,} applications, default rate {frame['TARGET'].mean():.2%}, in {time.perf_counter() - started:.0f} s")
    print(f"true default probabilities (the ceiling for any model) in {true_scores_dir(Path(args.out_dir))}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from warehouse.sample_data.splitter import split_file

    for path in split_file(Path(args.file), Path(args.out_dir)):
        print(f"wrote {path}")
    return 0


def _progress(message: str) -> None:
    print(message, flush=True)


def _load(args: argparse.Namespace) -> int:
    from warehouse.ingestion.loader import DeliveryRejected, load_delivery

    try:
        paths = DataPaths.from_env().create()
        result = load_delivery(Path(args.file), paths, progress=_progress)
    except DeliveryRejected as rejected:
        print(str(rejected), file=sys.stderr)
        return EXIT_REJECTED
    print(result.describe())
    if result.status != "unchanged":
        from assets.staleness import record_loads_outside_runs

        for recorded in record_loads_outside_runs(paths):
            print(f"recorded in Dagster: {recorded} has new data; what was built from it is stale until re-materialised")
    return 0


def _model_run_config(trials: int | None) -> dict | None:
    if trials is None:
        return None
    return {"ops": {"credit_default_model": {"config": {"n_trials": trials}}}}


def _run(args: argparse.Namespace) -> int:
    from assets.month_runs import run_month

    month = parse_month(args.month)
    started = time.perf_counter()
    run = run_month(month, DataPaths.from_env().create(), _model_run_config(args.trials))
    _print_run(run)
    print(f"{month:%Y-%m}: {'succeeded' if run.success else 'failed'} in {time.perf_counter() - started:.0f} s")
    return 0 if run.success else 1


def _print_run(run) -> None:
    """The run's notification: the failing step and its error, or the checks that warned."""
    notification = run.notification
    output = sys.stdout if run.success else sys.stderr
    print(notification["text"], file=output)
    for step in notification["details"].get("failed_steps", []):
        print(f"  {step['step']}: {step['error']}", file=output)
    for warning in notification["details"].get("check_warnings", []):
        print(f"  warning: {warning}", file=output)


def _format_rate(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2%}"


def _format_auc(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def demo_table(paths: DataPaths, months: list[date], seconds: dict[date, float]) -> str:
    """One line per month: rows scored, mean probability, decline rate, AUCs, time taken."""
    from ml.evaluation import auc
    from ml.model_store import latest_card
    from warehouse.database import connect
    from warehouse.publishing.predictions_table import monthly_summary, scored_with_labels

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
            lines.append(
                f"{month:%Y-%m}  {int(row.rows_scored):>11,} {row.mean_probability:>9.4f} "
                f"{_format_rate(row.decline_rate):>8} {_format_rate(row.review_rate):>7} "
                f"{_format_rate(row.observed_default_rate):>8} "
                f"{_format_auc(auc(scored['target'], scored['default_probability'].to_numpy())):>8} "
                f"{_format_auc(card.metrics['validation_auc']):>9} {seconds.get(month, float('nan')):>8.0f}  {row.model_version}"
            )
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    from assets.month_runs import run_month
    from warehouse.sample_data.generator import generate
    from warehouse.sample_data.splitter import delivery_months, write_parts

    paths = DataPaths.from_env().create()
    started = time.perf_counter()
    print(f"generating {args.rows:,} applications into {paths.inbox} (seed {args.seed})", flush=True)
    generated = generate(rows=args.rows, seed=args.seed)
    write_parts(generated.frame, paths.inbox, generated.true_probability, generated.true_probability_without_sex)
    months = delivery_months()
    seconds: dict[date, float] = {}
    for number, month in enumerate(months, start=1):
        print(f"[{number}/{len(months)}] materialising {month:%Y-%m} through Dagster ...", flush=True)
        month_started = time.perf_counter()
        run = run_month(month, paths, _model_run_config(args.trials))
        seconds[month] = time.perf_counter() - month_started
        if not run.success:
            _print_run(run)
            print(f"{month:%Y-%m} failed; see the run in the Dagster UI (make ui)", file=sys.stderr)
            return 1
    print()
    print(demo_table(paths, months, seconds))
    print(f"\ntotal {time.perf_counter() - started:.0f} s; warehouse {paths.warehouse}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    import json

    from ml.backtest import backtest, format_table
    from warehouse.database import connect
    from warehouse.sample_data.splitter import true_scores_dir

    paths = DataPaths.from_env()
    if not _require_warehouse(paths):
        return EXIT_USAGE
    truth_dir = Path(args.true_scores) if args.true_scores else true_scores_dir(paths.inbox)
    with connect(paths.warehouse, read_only=True) as connection:
        figures = backtest(connection, truth_dir if truth_dir.is_dir() else None)
    if not figures:
        print("no scored months yet: nothing to backtest", file=sys.stderr)
        return EXIT_USAGE
    print(format_table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps([f.as_dict() for f in figures], indent=2, default=str), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _require_warehouse(paths: DataPaths) -> bool:
    if paths.warehouse.exists():
        return True
    print(f"no warehouse at {paths.warehouse}: run `credit run YYYY-MM` or `make demo` first", file=sys.stderr)
    return False


def _status(args: argparse.Namespace) -> int:
    from assets.run_records import month_states
    from warehouse import status_queries as status
    from warehouse.database import connect

    paths = DataPaths.from_env()
    if not _require_warehouse(paths):
        return EXIT_USAGE
    with connect(paths.warehouse, read_only=True) as connection:
        deliveries = status.deliveries(connection)
        rejected = status.rejected_count(connection)
        champion = status.champion(connection)
        monitored, warnings = status.latest_warnings(connection)
    print(f"data directory {paths.root}\n\ndeliveries loaded ({rejected} rejected, see {paths.quarantine}):")
    for file_name, kind, month, rows, sha256, loaded_at in deliveries:
        print(f"  {file_name:<24} {kind:<12} {rows:>9,} rows  sha256 {sha256[:12]}  loaded {loaded_at:%Y-%m-%d %H:%M}")
    print("\nmonths:")
    for state in month_states(paths):
        print(f"  {state.month}  {state.state:<10} {('run ' + state.run_id[:8]) if state.run_id else ''}")
    print("\nchampion model: " + (f"{champion[0]} (trained for {champion[1]:%Y-%m}, validation AUC {champion[2]:.4f})" if champion else "none yet"))
    if monitored is None:
        print("monitoring: nothing monitored yet")
    else:
        print(f"warnings of {monitored:%Y-%m}:" + ("" if warnings else " none"))
        for warning in warnings:
            print(f"  {warning}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from warehouse.database import connect
    from ml.reports.month_report import write_month_report

    month = parse_month(args.month)
    paths = DataPaths.from_env()
    if not _require_warehouse(paths):
        return EXIT_USAGE
    print(f"drawing the report of {month:%Y-%m} ...", flush=True)
    with connect(paths.warehouse, read_only=True) as connection:
        path = write_month_report(connection, month, paths.models, paths.root / "reports")
    print(f"wrote {path}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from ml.audit import audit_decision, reasons_of
    from warehouse.database import connect

    paths = DataPaths.from_env()
    if not _require_warehouse(paths):
        return EXIT_USAGE
    with connect(paths.warehouse, read_only=True) as connection:
        try:
            audit = audit_decision(connection, args.sk_id_curr, paths.models)
        except LookupError as error:
            print(f"credit explain: {error}", file=sys.stderr)
            return EXIT_USAGE
        except RuntimeError as error:  # the stored model no longer matches its card
            print(f"credit explain: {error}", file=sys.stderr)
            return 1
    given = audit.published
    print(
        f"application {args.sk_id_curr} ({given['application_month']:%Y-%m}), scored {given['scored_at']:%Y-%m-%d %H:%M} UTC "
        f"by model {given['model_version']}"
    )
    print(
        f"  probability {given['default_probability']:.6f}  grade {given['risk_grade']}  decision {given['decision']}"
        f"  (review from {given['review_from']:.2f}, decline from {given['decline_from']:.2f})"
    )
    reasons = reasons_of(given)
    print("  reasons:" if reasons else "  reasons: none (nothing pushed this applicant's risk up)")
    for number, (code, text) in enumerate(reasons, start=1):
        print(f"    {number}. {text}  [{code}]")
    source = f"recomputed from {audit.model_path} and the warehouse's features"
    if audit.matches:
        print(f"{source}: the same probability, grade, decision and reasons as published")
        return 0
    print(f"{source}: DIFFERS from what was published", file=sys.stderr)
    for difference in audit.differences:
        print(f"  {difference}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write Home-Credit-shaped delivery files")
    generate.add_argument("out_dir")
    generate.add_argument("--rows", type=int, default=307_511)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument(
        "--drift", metavar="YYYY-MM", help="drift this month: incomes up by a third, a housing type never seen before, external scores lower"
    )
    generate.set_defaults(handler=_generate)

    split = commands.add_parser("split", help="split a real application_train.csv into delivery files")
    split.add_argument("file")
    split.add_argument("out_dir")
    split.set_defaults(handler=_split)

    load = commands.add_parser(
        "load",
        help="check one delivery (initial.csv, YYYYMM01.csv or outcomes_YYYYMM01.csv) and load it, "
        "or move it to quarantine with a report (exit 1)",
    )
    load.add_argument("file")
    load.set_defaults(handler=_load)

    run = commands.add_parser("run", help="materialise one month (YYYY-MM) end to end through Dagster")
    run.add_argument("month")
    run.add_argument("--trials", type=int, default=None, help="Optuna trials (default: the model's config)")
    run.set_defaults(handler=_run)

    backtest = commands.add_parser(
        "backtest", help="out-of-time AUC, KS and Brier of every scored month, beside the ceiling of generated data"
    )
    backtest.add_argument("--true-scores", help="folder of the generator's true scores (default: inbox/true_scores)")
    backtest.add_argument("--json", help="also write the figures to this JSON file")
    backtest.set_defaults(handler=_backtest)

    status = commands.add_parser(
        "status", help="deliveries loaded, each month published, stale or failed, the champion model, the latest warnings"
    )
    status.set_defaults(handler=_status)

    explain = commands.add_parser(
        "explain",
        help="the model version, probability, decision and reasons given to one application, recomputed from the "
        "stored model to show they still match (exit 1 if not)",
    )
    explain.add_argument("sk_id_curr", type=int)
    explain.set_defaults(handler=_explain)

    report = commands.add_parser("report", help="write reports/YYYY-MM.html: the month's scores, drift, fairness and model")
    report.add_argument("month")
    report.set_defaults(handler=_report)

    demo = commands.add_parser("demo", help="generate full-size files and materialise all four months")
    demo.add_argument("--rows", type=int, default=307_511)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--trials", type=int, default=None)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Library warnings (such as waiting for the warehouse lock) reach the terminal.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        return args.handler(args)
    except (DeliveryError, DeliveryNameError, ValueError, FileNotFoundError,
            WarehouseBusyError, WarehouseVersionError) as error:
        print(f"credit {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
