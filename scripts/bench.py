"""`make bench`: the original notebook method against this project's month run, same files, one command.

1. Generate the full-size files once (seeded), with the generator's true probabilities.
2. Bring this project to the state an operator has before January: months 2020-10 to 2020-12
   materialised through Dagster, each next month's model trained ahead but January's (not timed).
3. Time, each in its own process: the original method for 2021-01 (ml/original_method.py);
   `credit train 2021-01` (January's model trained ahead: training set, tuning, fits, gate);
   `credit run 2021-01 --no-train-ahead` (load, dbt, scoring with the model trained ahead,
   outbox, monitoring, BI copy), with the time from its start to the outbox file.
4. Print wall time and peak memory of each, their ratios to the original and the targets, and
   the out-of-time AUC of each on January's applications beside the ceiling (the true
   probabilities' AUC on the same rows).
5. Print where each run's time went (Dagster's own step timings and the model card's phases),
   and the floor that the month run's required steps set, each measured alone right after:
   starting Python with the Dagster definitions and starting dbt (once: it runs in the run's process).
6. Measure what leaving out the protected attributes costs: January's model is trained again
   on the same training set with them (same procedure, config and seed), and both models'
   out-of-time AUC on January's applications is printed.
7. Load-test the online service over the same data directory (scripts/load_bench.py): latency
   and throughput of single applications at 1, 8 and 32 clients and at 50 a second, batches of
   1,000, and where a request's time goes.

The ceiling is the AUC of the generator's true probabilities without their sex term: a model
that may not use sex can do no better on average (the true probabilities with it are shown too).

Peak memory is the largest resident set of any one process in each run's process tree
(wait4's ru_maxrss), so dbt's subprocess counts for this project's run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MONTH = date(2021, 1, 1)
PREPARED_MONTHS = ("2020-10", "2020-11", "2020-12")
# Targets against the original method's wall time (issue: scores within seconds of a file's arrival).
MONTH_RUN_TARGET, TO_OUTBOX_TARGET, TRAIN_AND_RUN_TARGET, AUC_TARGET = 0.33, 0.25, 1.0, 0.99


def _timed(command: list[str], env: dict, log_path: Path) -> tuple[float, float, int]:
    """Run a command to completion: (wall seconds, peak RSS in MiB, exit status)."""
    with open(log_path, "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def _original(files_dir: str) -> None:
    """Child process: the original method, printing its results as JSON on the last line."""
    from ml.original_method import run

    result = run(Path(files_dir), MONTH)
    print(
        json.dumps(
            {
                "random_split_auc": result.random_split_auc,
                "out_of_time_auc": result.out_of_time_auc,
                "training_rows": result.training_rows,
            }
        )
    )


def _exclusion(data_dir: str) -> None:
    """Child process: January's model without and with the protected attributes, scored out of time on January."""
    from dataclasses import replace

    import pandas as pd

    from ml.dataset import read_training_set, scoring_rows
    from ml.evaluation import auc
    from ml.model_store import latest_card, load_model
    from ml.prediction import predict
    from ml.training import train_model
    from ml.training_config import TrainingConfig
    from warehouse.database import connect
    from warehouse.publishing.predictions_table import scored_with_labels

    data = Path(data_dir)
    card = latest_card(data / "models", MONTH)
    booster, card = load_model(data / "models", card.version)
    config = TrainingConfig(
        **{name: value for name, value in card.training_config.items() if name in TrainingConfig.__dataclass_fields__}
    )
    frame = read_training_set(data / "training_sets" / f"{MONTH:%Y-%m}.parquet")
    with_protected = train_model(frame, replace(config, protected_attributes=()), card.warm_start)
    with connect(data / "warehouse.duckdb", read_only=True) as connection:
        rows = scoring_rows(connection, MONTH)
        labels = (
            scored_with_labels(connection, MONTH).set_index("sk_id_curr").loc[rows["sk_id_curr"], "target"].to_numpy()
        )
    labelled = ~pd.isna(labels)
    without_auc = auc(labels[labelled], predict(booster, rows, card.feature_names, card.platt_scaling)[labelled])
    with_auc = auc(
        labels[labelled],
        predict(with_protected.booster, rows, with_protected.feature_names, with_protected.calibration)[labelled],
    )
    print(
        json.dumps(
            {
                "without_protected_auc": without_auc,
                "with_protected_auc": with_auc,
                "excluded_features": len(card.excluded_features or []),
                "protected_attributes": card.protected_attributes,
            }
        )
    )


def _project_auc(data_dir: Path) -> float:
    from ml.evaluation import auc
    from warehouse.database import connect
    from warehouse.publishing.predictions_table import scored_with_labels

    with connect(data_dir / "warehouse.duckdb", read_only=True) as connection:
        scored = scored_with_labels(connection, MONTH).dropna(subset=["target"])
    return auc(scored["target"], scored["default_probability"].to_numpy())


def _run_steps(data_dir: Path, job_name: str) -> tuple[float, list[tuple[str, float]]]:
    """Dagster's record of the month's latest run of a job: its duration and each step's, in order."""
    import dagster as dg

    from assets.partitions import partition_key

    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        filters = dg.RunsFilter(job_name=job_name, tags={"dagster/partition": partition_key(MONTH)})
        [run] = instance.get_runs(filters=filters, limit=1)
        stats = instance.get_run_stats(run.run_id)
        steps = sorted(instance.get_run_step_stats(run.run_id), key=lambda step: step.start_time)
    return stats.end_time - stats.start_time, [(step.step_key, step.end_time - step.start_time) for step in steps]


def _training_phases(data_dir: Path) -> dict:
    from ml.model_store import latest_card

    return latest_card(data_dir / "models", MONTH).timings or {}


def _floor_parts(env: dict, work: Path) -> dict:
    """Costs every month run pays whatever its data, each timed alone in a fresh process."""
    from warehouse.paths import DBT_PROJECT_DIR, DataPaths

    dbt = str(Path(sys.executable).with_name("dbt"))
    dbt_ls = [
        dbt,
        "ls",
        "--quiet",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(DataPaths(Path(env["CREDIT_DATA_DIR"])).dbt_target / "features"),
    ]
    definitions, _, status = _timed(
        [sys.executable, "-c", "import assets.definitions"], env, work / "floor_definitions.log"
    )
    dbt_start, _, dbt_status = _timed(dbt_ls, env, work / "floor_dbt_ls.log")
    if status or dbt_status:
        raise RuntimeError(f"a floor measurement failed; see {work}/floor_*.log")
    return {"definitions": definitions, "dbt_start": dbt_start}


def _print_time_split(title: str, process_seconds: float, run_seconds: float, steps: list, phases: dict) -> None:
    print(f"where {title}'s {process_seconds:.1f} s went (Dagster's step timings):")
    print(f"  {'outside the run: Python, the definitions, the notification':<58} {process_seconds - run_seconds:>6.1f}")
    for step, seconds in steps:
        print(f"  {step:<58} {seconds:>6.1f}")
        if step == "credit_default_model" and phases:
            print("    " + ", ".join(f"{name.replace('_', ' ')} {value:.1f}" for name, value in phases.items()))


def _print_floor(floor: dict, original_seconds: float) -> None:
    print("the floor of any month run with these steps, each part measured alone:")
    print(f"  {'Python and the Dagster definitions (import assets.definitions)':<64} {floor['definitions']:>6.1f}")
    print(f"  {'dbt start-up and manifest (dbt ls), once (dbt runs in the process)':<64} {floor['dbt_start']:>6.1f}")
    print(
        f"  {'sum, before any loading, SQL, scoring or publishing':<64} {floor['total']:>6.1f}"
        f"  = {floor['total'] / original_seconds:.2f} x the original (target for the run: {MONTH_RUN_TARGET:.2f} x)"
    )


def _verdict(ratio: float, target: float, at_least: bool = False) -> str:
    met = ratio >= target if at_least else ratio <= target
    return f"target {'>=' if at_least else '<='} {target:.2f}: {'met' if met else 'NOT met'}"


def _ceiling_aucs(files_dir: Path) -> tuple[float, float]:
    """AUC on January of the true probabilities without their sex term (the ceiling), and with it."""
    import pandas as pd

    from ml.evaluation import auc
    from warehouse.ingestion.delivery_names import month_file_name
    from warehouse.sample_data.splitter import TRUE_PROBABILITY, TRUE_PROBABILITY_WITHOUT_SEX, true_scores_dir

    labels = pd.read_csv(files_dir / month_file_name(MONTH), usecols=["SK_ID_CURR", "TARGET"])
    truth = pd.read_csv(true_scores_dir(files_dir) / month_file_name(MONTH))
    joined = labels.merge(truth, on="SK_ID_CURR", validate="one_to_one")
    return (
        auc(joined["TARGET"], joined[TRUE_PROBABILITY_WITHOUT_SEX].to_numpy()),
        auc(joined["TARGET"], joined[TRUE_PROBABILITY].to_numpy()),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default=str(PROJECT / "data" / "bench"), help="scratch folder, emptied first")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--original-only", metavar="FILES_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--exclusion-only", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.original_only:
        _original(args.original_only)
        return 0
    if args.exclusion_only:
        _exclusion(args.exclusion_only)
        return 0

    from warehouse.sample_data.generator import generate
    from warehouse.sample_data.splitter import write_parts

    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    files, data = work / "files", work / "project"
    (data / "inbox").mkdir(parents=True)
    print(f"generating 307,511 applications (seed {args.seed}) into {files}", flush=True)
    generated = generate(seed=args.seed)
    for path in write_parts(generated.frame, files, generated.true_probability, generated.true_probability_without_sex):
        shutil.copy(path, data / "inbox" / path.name)

    env = {**os.environ, "CREDIT_DATA_DIR": str(data)}
    credit = str(Path(sys.executable).with_name("credit"))
    for month in PREPARED_MONTHS:
        # Each month's run trains the next month's model ahead, but the last: January's is timed below.
        ahead = ["--no-train-ahead"] if month == PREPARED_MONTHS[-1] else []
        print(f"preparing: credit run {month} {' '.join(ahead)}(not timed)", flush=True)
        _, _, status = _timed([credit, "run", month, *ahead], env, work / f"prepare_{month}.log")
        if status:
            print(f"credit run {month} failed; see {work / f'prepare_{month}.log'}", file=sys.stderr)
            return 1

    print("timing the original method for 2021-01 ...", flush=True)
    original_log = work / "original.log"
    original_seconds, original_peak, status = _timed(
        [sys.executable, __file__, "--original-only", str(files)], env, original_log
    )
    if status:
        print(f"the original method failed; see {original_log}", file=sys.stderr)
        return 1
    original = json.loads(original_log.read_text().strip().splitlines()[-1])

    print("timing January's model trained ahead: credit train 2021-01 ...", flush=True)
    train_seconds, train_peak, status = _timed([credit, "train", "2021-01"], env, work / "train.log")
    if status:
        print(f"credit train 2021-01 failed; see {work / 'train.log'}", file=sys.stderr)
        return 1

    print("timing this project's month run: credit run 2021-01 --no-train-ahead ...", flush=True)
    outbox = data / "outbox" / f"pred_{MONTH:%Y%m%d}.csv"
    started_at = time.time()
    project_seconds, project_peak, status = _timed(
        [credit, "run", "2021-01", "--no-train-ahead"], env, work / "project.log"
    )
    if status:
        print(f"credit run 2021-01 failed; see {work / 'project.log'}", file=sys.stderr)
        return 1
    to_outbox = outbox.stat().st_mtime - started_at  # renamed into place whole: its time is the publication

    floor = _floor_parts(env, work)
    run_seconds, steps = _run_steps(data, "score_month")
    train_run_seconds, train_steps = _run_steps(data, "train_ahead")
    phases = _training_phases(data)
    floor["total"] = floor["definitions"] + floor["dbt_start"]
    ceiling, ceiling_with_sex = _ceiling_aucs(files)
    project_auc = _project_auc(data)

    print(
        "measuring the cost of leaving out the protected attributes: January's model trained again with them ...",
        flush=True,
    )
    exclusion_log = work / "exclusion.log"
    _, _, status = _timed([sys.executable, __file__, "--exclusion-only", str(data)], env, exclusion_log)
    if status:
        print(f"the exclusion measurement failed; see {exclusion_log}", file=sys.stderr)
        return 1
    exclusion = json.loads(exclusion_log.read_text().strip().splitlines()[-1])
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "original": {"seconds": original_seconds, "peak_mib": original_peak, **original},
        "project": {
            "seconds": project_seconds,
            "to_outbox_seconds": to_outbox,
            "peak_mib": project_peak,
            "out_of_time_auc": project_auc,
            "run_seconds": run_seconds,
            "steps": dict(steps),
        },
        "training": {
            "seconds": train_seconds,
            "peak_mib": train_peak,
            "run_seconds": train_run_seconds,
            "steps": dict(train_steps),
            "training_phases": phases,
        },
        "ceiling_auc": ceiling,
        "ceiling_with_sex_auc": ceiling_with_sex,
        "exclusion": exclusion,
        "floor": floor,
    }
    (work / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print()
    print(
        f"make bench, {results['date']}, {results['cores']} cores; "
        f"month 2021-01, full-size generated files (seed {args.seed})"
    )
    print(f"{'':<44} {'wall s':>7} {'x orig.':>7} {'peak MiB':>9} {'OOT AUC':>8} {'of ceiling':>10}")
    print(
        f"{'original notebook method':<44} {original_seconds:>7.1f} {1:>7.2f} {original_peak:>9,.0f} "
        f"{original['out_of_time_auc']:>8.4f} {original['out_of_time_auc'] / ceiling:>10.3f}"
    )
    run_ratio, outbox_ratio = project_seconds / original_seconds, to_outbox / original_seconds
    both = train_seconds + project_seconds
    both_ratio, auc_share = both / original_seconds, project_auc / ceiling
    print(
        f"{'credit train 2021-01 (ahead of the file)':<44} {train_seconds:>7.1f} "
        f"{train_seconds / original_seconds:>7.2f} {train_peak:>9,.0f}"
    )
    print(
        f"{'credit run 2021-01 --no-train-ahead':<44} {project_seconds:>7.1f} {run_ratio:>7.2f} "
        f"{project_peak:>9,.0f} {project_auc:>8.4f} {auc_share:>10.3f}"
    )
    print(f"{'  of which start to outbox file':<44} {to_outbox:>7.1f} {outbox_ratio:>7.2f}")
    print(f"{'training ahead + month run':<44} {both:>7.1f} {both_ratio:>7.2f}")
    print(f"{'ceiling (true prob., no sex term)':<44} {'':>7} {'':>7} {'':>9} {ceiling:>8.4f} {1:>10.3f}")
    print(
        f"{'true probabilities with sex term':<44} {'':>7} {'':>7} {'':>9} "
        f"{ceiling_with_sex:>8.4f} {ceiling_with_sex / ceiling:>10.3f}"
    )
    print("targets against the original:")
    print(f"  month run {run_ratio:.2f} x, {_verdict(run_ratio, MONTH_RUN_TARGET)}")
    print(f"  start to outbox {outbox_ratio:.2f} x, {_verdict(outbox_ratio, TO_OUTBOX_TARGET)}")
    print(f"  training ahead + month run {both_ratio:.2f} x, {_verdict(both_ratio, TRAIN_AND_RUN_TARGET)}")
    print(f"  OOT AUC {auc_share:.3f} of the ceiling, {_verdict(auc_share, AUC_TARGET, at_least=True)}")
    print(f"the original's own test AUC (random 20 % of its training rows): {original['random_split_auc']:.4f}")
    print()
    cost = exclusion["with_protected_auc"] - exclusion["without_protected_auc"]
    print(
        f"leaving out {', '.join(exclusion['protected_attributes'])} "
        f"({exclusion['excluded_features']} features), January's own model:"
    )
    print(
        f"  OOT AUC without them {exclusion['without_protected_auc']:.4f}, "
        f"with them {exclusion['with_protected_auc']:.4f}: the exclusion costs {cost:+.4f} AUC"
    )
    print()
    _print_time_split("credit train 2021-01", train_seconds, train_run_seconds, train_steps, phases)
    print()
    _print_time_split("credit run 2021-01", project_seconds, run_seconds, steps, {})
    print()
    _print_floor(floor, original_seconds)
    print(f"full results: {work / 'bench.json'}")
    print()
    # Online scoring over the same data directory, January published: January's applications sent again.
    print("load test of the online service (scripts/load_bench.py) ...", flush=True)
    load = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "scripts" / "load_bench.py"),
            "--data-dir",
            str(data),
            "--applications",
            str(files / f"{MONTH:%Y%m}01.csv"),
            "--json",
            str(work / "load_bench.json"),
        ],
        env=env,
        cwd=PROJECT,
    )
    return load.returncode


if __name__ == "__main__":
    sys.exit(main())
