"""`credit backtest`, `credit explain` and `credit report`: questions about months already scored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assets.command_line.data_directory import built_data_directory
from assets.command_line.exit_codes import EXIT_FAILED, EXIT_USAGE
from assets.engines import warehouse_engine
from ml.audit import audit_decision, reasons_of
from ml.backtest import backtest as backtest_months
from ml.backtest import format_table
from ml.reports.month_report import write_month_report
from warehouse.database import connect
from warehouse.engine_setting import DEFAULT_ENGINE, held_engine
from warehouse.ingestion.delivery_names import parse_month
from warehouse.online.decision_log import online_decisions
from warehouse.paths import DataPaths
from warehouse.sample_data.splitter import true_scores_dir


def _on_duckdb(paths: DataPaths) -> None:
    """Refuses, saying so, a command that reads the scores in the DuckDB file when another engine holds them."""
    engine = held_engine(paths.root, paths.warehouse)
    if engine != DEFAULT_ENGINE:
        raise ValueError(
            f"reads the scores from the DuckDB warehouse, and {paths.root} keeps them on {engine}:"
            f" not available on {engine} yet (the month's scores are in serving/ for BI, and `credit report`"
            f" draws a month's report on either engine)"
        )


def backtest(args: argparse.Namespace) -> int:
    paths = built_data_directory()
    _on_duckdb(paths)
    truth_dir = Path(args.true_scores) if args.true_scores else true_scores_dir(paths.inbox)
    with connect(paths.warehouse, read_only=True) as connection:
        figures = backtest_months(connection, truth_dir if truth_dir.is_dir() else None)
    if not figures:
        print("no scored months yet: nothing to backtest", file=sys.stderr)
        return EXIT_USAGE
    print(format_table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps([f.as_dict() for f in figures], indent=2, default=str), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def report(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    paths = built_data_directory()
    print(f"drawing the report of {month:%Y-%m} ...", flush=True)
    with warehouse_engine(paths).month_results(month) as connection:
        path = write_month_report(connection, month, paths.models, paths.reports)
    print(f"wrote {path}")
    return 0


def _print_online_decisions(decisions: list[dict]) -> None:
    for given in decisions:
        print(
            f"application {given['sk_id_curr']}, decided online {given['decided_at']:%Y-%m-%d %H:%M:%S} UTC"
            f" by model {given['model_version']} ({given['log_file']}, line {given['line']})"
        )
        print(
            f"  probability {given['default_probability']:.6f}  grade {given['risk_grade']}"
            f"  decision {given['decision']}"
        )
        print("  reasons:" if given["reasons"] else "  reasons: none (nothing pushed this applicant's risk up)")
        for number, (code, text) in enumerate(zip(given["reason_codes"], given["reasons"], strict=True), start=1):
            print(f"    {number}. {text}  [{code}]")


def explain(args: argparse.Namespace) -> int:
    paths = built_data_directory()
    _on_duckdb(paths)
    with connect(paths.warehouse, read_only=True) as connection:
        online = online_decisions(connection, args.sk_id_curr)
        try:
            audit = audit_decision(connection, args.sk_id_curr, paths.models)
        except LookupError as error:
            if online:  # scored online only: the decision log, as loaded by the last month's run
                _print_online_decisions(online)
                return 0
            print(f"credit explain: {error}", file=sys.stderr)
            return EXIT_USAGE
        except RuntimeError as error:  # the stored model no longer matches its card
            print(f"credit explain: {error}", file=sys.stderr)
            return EXIT_FAILED
    given = audit.published
    print(
        f"application {args.sk_id_curr} ({given['application_month']:%Y-%m}), "
        f"scored {given['scored_at']:%Y-%m-%d %H:%M} UTC by model {given['model_version']}"
    )
    print(
        f"  probability {given['default_probability']:.6f}  grade {given['risk_grade']}  decision {given['decision']}"
        f"  (review from {given['review_from']:.2f}, decline from {given['decline_from']:.2f})"
    )
    reasons = reasons_of(given)
    print("  reasons:" if reasons else "  reasons: none (nothing pushed this applicant's risk up)")
    for number, (code, text) in enumerate(reasons, start=1):
        print(f"    {number}. {text}  [{code}]")
    if online:
        _print_online_decisions(online)
    source = f"recomputed from {audit.model_path} and the warehouse's features"
    if audit.matches:
        print(f"{source}: the same probability, grade, decision and reasons as published")
        return 0
    print(f"{source}: DIFFERS from what was published", file=sys.stderr)
    for difference in audit.differences:
        print(f"  {difference}", file=sys.stderr)
    return EXIT_FAILED
