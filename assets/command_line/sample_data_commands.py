"""`credit generate` and `credit split`: delivery files from the generator or from a real application_train.csv."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from warehouse.ingestion.delivery_names import parse_month
from warehouse.sample_data import drift_drill
from warehouse.sample_data.generator import generate as generate_applications
from warehouse.sample_data.splitter import split_file, split_plan, true_scores_dir, write_parts


def generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    split_plan(args.rows, args.month_rows)  # too few rows for these months: said before generating them
    generated = generate_applications(rows=args.rows, seed=args.seed)
    frame = generated.frame
    if args.drift:
        month = parse_month(args.drift)
        frame = drift_drill.drift_month(frame, month, args.seed, args.month_rows)
        print(
            f"{month:%Y-%m} drifted: AMT_INCOME_TOTAL x {drift_drill.INCOME_FACTOR:.3f}, NAME_HOUSING_TYPE "
            f"{drift_drill.NEW_HOUSING_LEVEL!r} on {drift_drill.NEW_HOUSING_SHARE:.0%} of rows, "
            f"{' and '.join(drift_drill.LOWERED_EXTERNAL_SCORES)} x {drift_drill.EXTERNAL_SCORE_FACTOR}; "
            "nothing else changed"
        )
    out_dir = Path(args.out_dir)
    written = write_parts(
        frame, out_dir, generated.true_probability, generated.true_probability_without_sex, args.month_rows
    )
    for path in written:
        print(f"wrote {path}")
    seconds = time.perf_counter() - started
    print(f"{len(frame):,} applications, default rate {frame['TARGET'].mean():.2%}, in {seconds:.0f} s")
    print(f"true default probabilities (the ceiling for any model) in {true_scores_dir(out_dir)}")
    return 0


def split(args: argparse.Namespace) -> int:
    for path in split_file(Path(args.file), Path(args.out_dir)):
        print(f"wrote {path}")
    return 0
