"""`make bench`: the original notebook method against this project's month run, same files, one command.

1. Generate the full-size files once (seeded), with the generator's true probabilities.
2. Bring this project to the state an operator has before January: months 2020-10 to 2020-12
   materialised through Dagster (not timed).
3. Time, each in its own process: the original method for 2021-01 (ml/original_method.py),
   then `credit run 2021-01` (load, dbt build, training set, tuning and training, scoring).
4. Print wall time and peak memory of each, their ratio, and the out-of-time AUC of each on
   January's applications beside the ceiling (the true probabilities' AUC on the same rows).
5. Print where the month run's time went (Dagster's own step timings and the model card's
   phases), and the floor that the month's required steps set, each measured alone right
   after: starting Python with the Dagster definitions, starting dbt (once per dbt step) and
   the model's three full fits. The floor against the original shows how close to its target
   the speed of any month run with these steps can come.
6. Measure what leaving out the protected attributes costs: January's model is trained again
   on the same training set with them (same procedure, config and seed), and both models'
   out-of-time AUC on January's applications is printed.

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
    from ml.training import TrainingConfig, predict, train_model
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


def _run_steps(data_dir: Path) -> tuple[float, list[tuple[str, float]]]:
    """Dagster's record of the month's latest run: its duration and each step's, in order."""
    import dagster as dg

    from assets.partitions import partition_key

    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        [run] = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": partition_key(MONTH)}), limit=1)
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


def _print_time_split(project_seconds: float, run_seconds: float, steps: list, phases: dict) -> None:
    print(f"where the month run's {project_seconds:.1f} s went (Dagster's step timings):")
    print(f"  {'outside the run: Python, the definitions, the notification':<58} {project_seconds - run_seconds:>6.1f}")
    for step, seconds in steps:
        print(f"  {step:<58} {seconds:>6.1f}")
        if step == "credit_default_model" and phases:
            print("    " + ", ".join(f"{name.replace('_', ' ')} {value:.1f}" for name, value in phases.items()))


def _print_floor(floor: dict, original_seconds: float) -> None:
    print("the floor of any month run with these steps, each part measured alone:")
    print(f"  {'Python and the Dagster definitions (import assets.definitions)':<64} {floor['definitions']:>6.1f}")
    print(f"  {'dbt start-up and manifest (dbt ls), once per dbt step, x 2':<64} {2 * floor['dbt_start']:>6.1f}")
    print(f"  {'binning and the three full fits (the model card)':<64} {floor['fits']:>6.1f}")
    print(
        f"  {'sum, before any loading, SQL, tuning, scoring or publishing':<64} {floor['total']:>6.1f}"
        f"  = {floor['total'] / original_seconds:.2f} x the original (target: 0.50 x)"
    )


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
        print(f"preparing: credit run {month} (not timed)", flush=True)
        _, _, status = _timed([credit, "run", month], env, work / f"prepare_{month}.log")
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

    print("timing this project's month run: credit run 2021-01 ...", flush=True)
    project_seconds, project_peak, status = _timed([credit, "run", "2021-01"], env, work / "project.log")
    if status:
        print(f"credit run 2021-01 failed; see {work / 'project.log'}", file=sys.stderr)
        return 1

    floor = _floor_parts(env, work)
    run_seconds, steps = _run_steps(data)
    phases = _training_phases(data)
    floor["fits"] = sum(phases.get(name, 0.0) for name in ("early_stopped_fit", "validation_fit", "refit"))
    floor["total"] = floor["definitions"] + 2 * floor["dbt_start"] + floor["fits"]
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
            "peak_mib": project_peak,
            "out_of_time_auc": project_auc,
            "run_seconds": run_seconds,
            "steps": dict(steps),
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
    print(f"{'':<34} {'wall s':>7} {'peak MiB':>9} {'OOT AUC':>8} {'of ceiling':>10}")
    print(
        f"{'original notebook method':<34} {original_seconds:>7.1f} {original_peak:>9,.0f} "
        f"{original['out_of_time_auc']:>8.4f} {original['out_of_time_auc'] / ceiling:>10.3f}"
    )
    print(
        f"{'this project: credit run 2021-01':<34} {project_seconds:>7.1f} {project_peak:>9,.0f} "
        f"{project_auc:>8.4f} {project_auc / ceiling:>10.3f}"
    )
    print(f"{'ceiling (true prob., no sex term)':<34} {'':>7} {'':>9} {ceiling:>8.4f} {1:>10.3f}")
    print(
        f"{'true probabilities with sex term':<34} {'':>7} {'':>9} "
        f"{ceiling_with_sex:>8.4f} {ceiling_with_sex / ceiling:>10.3f}"
    )
    print(f"time ratio, project / original: {project_seconds / original_seconds:.2f}")
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
    _print_time_split(project_seconds, run_seconds, steps, phases)
    print()
    _print_floor(floor, original_seconds)
    print(f"full results: {work / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
