"""Rejected deliveries go to the quarantine folder beside a JSON report of every problem.

The report is written first (whole, then renamed), the file moved second: if the move
never happens the file is still where it was and is checked again next time.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from warehouse.atomic_files import atomic_write_text
from warehouse.ingestion.check_report import DeliveryReport
from warehouse.ingestion.delivery_names import safe_file_name

REPORT_SUFFIX = ".report.json"


def _free_name(folder: Path, base: str) -> str:
    candidate, number = base, 1
    while (folder / candidate).exists() or (folder / (candidate + REPORT_SUFFIX)).exists():
        number += 1
        candidate = f"{base}.{number}"
    return candidate


def quarantine(path: Path, report: DeliveryReport, folder: Path) -> tuple[Path, Path]:
    """Move `path` into `folder` under a timestamped safe name; returns (file, report) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = _free_name(folder, f"{stamp}_{safe_file_name(path.name)}")
    moved, report_path = folder / base, folder / (base + REPORT_SUFFIX)
    atomic_write_text(report_path, report.to_json(original_path=str(path.resolve()), quarantined_file=str(moved)))
    shutil.move(str(path), str(moved))
    return moved, report_path
