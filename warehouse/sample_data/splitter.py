"""The monthly delivery plan: history in `initial.csv`, then four months of applications.

As in the original operation, the last 40,000 rows of the 307,511-row file are four months
of 10,000 applications (2020-10 … 2021-01); a smaller file keeps the same proportions.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.atomic_files import atomic_write
from warehouse.ingestion.delivery_names import FIRST_MONTH, HISTORY_FILE, add_months, month_file_name
from warehouse.sample_data.levels import REAL_ROW_COUNT

MONTHS = 4
MONTH_ROWS = 10_000
# Generated files only: the probability each TARGET was drawn with, in a folder beside them.
TRUE_SCORES_FOLDER = "true_scores"
TRUE_PROBABILITY = "TRUE_PROBABILITY"
TRUE_PROBABILITY_WITHOUT_SEX = "TRUE_PROBABILITY_WITHOUT_SEX"


@dataclass(frozen=True)
class Part:
    file_name: str
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def delivery_months(count: int = MONTHS) -> list[date]:
    return [add_months(FIRST_MONTH, i) for i in range(count)]


def split_plan(total_rows: int, month_rows: int | None = None) -> list[Part]:
    """Row ranges of the history file and the four monthly files.

    Months of `month_rows` each; by default 10,000, or the original's share of a smaller file.
    """
    if month_rows is None:
        month_rows = min(MONTH_ROWS, round(total_rows * MONTH_ROWS / REAL_ROW_COUNT))
    elif month_rows < 1:
        raise ValueError(f"a month needs at least one application, not {month_rows}")
    history_rows = total_rows - MONTHS * month_rows
    if month_rows < 1 or history_rows < month_rows:
        raise ValueError(
            f"{total_rows:,} rows are too few to split into history and {MONTHS} months of {month_rows:,}:"
            " the history must hold at least one month's rows"
        )
    parts = [Part(HISTORY_FILE, 0, history_rows)]
    for i, month in enumerate(delivery_months()):
        start = history_rows + i * month_rows
        parts.append(Part(month_file_name(month), start, start + month_rows))
    return parts


def write_parts(
    frame: pd.DataFrame,
    out_dir: Path,
    true_probability: np.ndarray | None = None,
    true_probability_without_sex: np.ndarray | None = None,
    month_rows: int | None = None,
) -> list[Path]:
    """Write a generated frame as the delivery files; each file appears whole or not at all.

    With `true_probability` (the generator's), each file gets a twin of the same name under
    `true_scores/`: SK_ID_CURR, the probability its TARGET was drawn with and, when given,
    that probability without its sex term. `month_rows`: as `split_plan`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if true_probability is not None:
        true_scores_dir(out_dir).mkdir(exist_ok=True)
    written = []
    for part in split_plan(len(frame), month_rows):
        rows = frame.iloc[part.start : part.stop]
        if true_probability is not None:
            truth = pd.DataFrame(
                {
                    "SK_ID_CURR": rows["SK_ID_CURR"].to_numpy(),
                    TRUE_PROBABILITY: true_probability[part.start : part.stop],
                }
            )
            if true_probability_without_sex is not None:
                truth[TRUE_PROBABILITY_WITHOUT_SEX] = true_probability_without_sex[part.start : part.stop]
            _write_csv(truth, true_scores_dir(out_dir) / part.file_name)
        written.append(_write_csv(rows, out_dir / part.file_name))
    return written


def true_scores_dir(files_dir: Path) -> Path:
    return files_dir / TRUE_SCORES_FOLDER


def _write_csv(frame: pd.DataFrame, final: Path) -> Path:
    with atomic_write(final) as temporary:
        frame.to_csv(temporary, index=False)
    return final


def split_file(source: Path, out_dir: Path) -> list[Path]:
    """Split a real `application_train.csv` into the delivery files, rows copied unchanged."""
    with open(source, newline="", encoding="utf-8-sig") as handle:
        total_rows = sum(1 for _ in csv.reader(handle)) - 1
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with open(source, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for part in split_plan(total_rows):
            final = out_dir / part.file_name
            with atomic_write(final) as temporary, open(temporary, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(header)
                for _ in range(part.rows):
                    writer.writerow(next(reader))
            written.append(final)
    return written
