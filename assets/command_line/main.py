"""`credit`: generate, split and load deliveries; run a month or the whole demo through Dagster; look at the results."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from assets.command_line.exit_codes import EXIT_USAGE
from warehouse.database import WarehouseBusyError, WarehouseVersionError
from warehouse.ingestion.delivery_names import DeliveryNameError
from warehouse.ingestion.loader import DeliveryError
from warehouse.online import DecisionLogBusy

# Each command's module is imported only when that command runs: `credit status` must not pay
# for the Dagster definitions, dbt's manifest and the model libraries that `credit run` needs.
COMMAND_MODULES = {
    "generate": "sample_data_commands",
    "split": "sample_data_commands",
    "load": "load_command",
    "run": "run_commands",
    "train": "run_commands",
    "demo": "run_commands",
    "status": "status_command",
    "backtest": "review_commands",
    "explain": "review_commands",
    "report": "review_commands",
    "serve": "serve_command",
}

# The command could not run as asked: one line on stderr, not a traceback.
USAGE_ERRORS = (
    DeliveryError,
    DeliveryNameError,
    ValueError,
    FileNotFoundError,
    WarehouseBusyError,
    WarehouseVersionError,
    DecisionLogBusy,
)


TRIALS_HELP = "Optuna trials (default: as the latest model was trained, else the model's config)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write Home-Credit-shaped delivery files")
    generate.add_argument("out_dir")
    generate.add_argument("--rows", type=int, default=307_511)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument(
        "--month-rows",
        type=int,
        metavar="N",
        help="applications in each of the four month files (default 10,000; fewer for a smaller --rows)",
    )
    generate.add_argument(
        "--drift",
        metavar="YYYY-MM",
        help="drift this month: incomes up by a third, a housing type never seen before, external scores lower",
    )

    split = commands.add_parser("split", help="split a real application_train.csv into delivery files")
    split.add_argument("file")
    split.add_argument("out_dir")

    load = commands.add_parser(
        "load",
        help="check one delivery (initial.csv, YYYYMM01.csv or outcomes_YYYYMM01.csv) and load it, "
        "or move it to quarantine with a report (exit 1)",
    )
    load.add_argument("file")

    run = commands.add_parser(
        "run",
        help="materialise one month (YYYY-MM) end to end through Dagster: a line per step, the full log in a file",
    )
    run.add_argument("month")
    run.add_argument("--trials", type=int, default=None, help=TRIALS_HELP)
    run.add_argument(
        "--no-train-ahead",
        action="store_true",
        help="do not train the next month's model after the run (by default it is, as the daemon does)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="stream the full Dagster and dbt log here too")

    train = commands.add_parser(
        "train",
        help="train, register and gate month YYYY-MM's model ahead, from what is published up to the month before",
    )
    train.add_argument("month")
    train.add_argument("--trials", type=int, default=None, help=TRIALS_HELP)
    train.add_argument("-v", "--verbose", action="store_true", help="stream the full Dagster and dbt log here too")

    backtest = commands.add_parser(
        "backtest", help="out-of-time AUC, KS and Brier of every scored month, beside the ceiling of generated data"
    )
    backtest.add_argument("--true-scores", help="folder of the generator's true scores (default: inbox/true_scores)")
    backtest.add_argument("--json", help="also write the figures to this JSON file")

    commands.add_parser(
        "status",
        help="deliveries loaded, each month published, stale or failed, the champion model, the latest warnings",
    )

    explain = commands.add_parser(
        "explain",
        help="the model version, probability, decision and reasons given to one application, recomputed from the "
        "stored model to show they still match (exit 1 if not)",
    )
    explain.add_argument("sk_id_curr", type=int)

    report = commands.add_parser(
        "report", help="write reports/YYYY-MM.html: the month's scores, drift, fairness and model"
    )
    report.add_argument("month")

    serve = commands.add_parser(
        "serve",
        help="the online scoring API and the delivery page; a token in $CREDIT_API_TOKEN, else 127.0.0.1 only",
    )
    serve.add_argument("--host", default=None, help="address to listen on (default 0.0.0.0 with a token)")
    serve.add_argument("--port", type=int, default=8000)

    demo = commands.add_parser("demo", help="generate full-size files and materialise all four months")
    demo.add_argument("--rows", type=int, default=307_511)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--trials", type=int, default=None)
    demo.add_argument("-v", "--verbose", action="store_true", help="stream the full Dagster and dbt log here too")
    return parser


def command_handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function named after the command, in its module."""
    module = importlib.import_module(f"assets.command_line.{COMMAND_MODULES[command]}")
    return getattr(module, command)


@contextmanager
def warnings_on_terminal() -> Iterator[None]:
    """Library warnings (such as waiting for the warehouse lock) reach the terminal while the command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings_on_terminal():
            return command_handler(args.command)(args)
    except USAGE_ERRORS as error:
        print(f"credit {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
