"""The monthly delivery plan: history in `initial.csv`, then four months of applications.

As in the original operation, the last 40,000 rows of the 307,511-row file are four months
of 10,000 applications (2020-10 … 2021-01); a smaller file keeps the same proportions.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from warehouse.deliveries import FIRST_MONTH, HISTORY_FILE, month_file_name
from warehouse.levels import REAL_ROW_COUNT

MONTHS = 4
MONTH_ROWS = 10_000


@dataclass(frozen=True)
class Part:
    file_name: str
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def delivery_months(count: int = MONTHS) -> list[date]:
    return [add_months(FIRST_MONTH, i) for i in range(count)]


def split_plan(total_rows: int) -> list[Part]:
    """Row ranges of the history file and the four monthly files."""
    month_rows = min(MONTH_ROWS, round(total_rows * MONTH_ROWS / REAL_ROW_COUNT))
    history_rows = total_rows - MONTHS * month_rows
    if month_rows < 1 or history_rows < month_rows:
        raise ValueError(f"{total_rows} rows are too few to split into history and {MONTHS} months")
    parts = [Part(HISTORY_FILE, 0, history_rows)]
    for i, month in enumerate(delivery_months()):
        start = history_rows + i * month_rows
        parts.append(Part(month_file_name(month), start, start + month_rows))
    return parts


def _replace_atomically(temporary: Path, final: Path) -> Path:
    os.replace(temporary, final)
    return final


def write_parts(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write a generated frame as the delivery files; each file appears whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for part in split_plan(len(frame)):
        final = out_dir / part.file_name
        temporary = final.with_name(final.name + ".partial")
        frame.iloc[part.start : part.stop].to_csv(temporary, index=False)
        written.append(_replace_atomically(temporary, final))
    return written


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
            temporary = final.with_name(final.name + ".partial")
            with open(temporary, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(header)
                for _ in range(part.rows):
                    writer.writerow(next(reader))
            written.append(_replace_atomically(temporary, final))
    return written
