"""Where runtime data lives: one data directory, `$CREDIT_DATA_DIR`, default `<project>/data`."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def dbt_executable() -> str:
    """The dbt installed beside this Python, so a venv works without being activated."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else "dbt"


@dataclass(frozen=True)
class DataPaths:
    """The folders and files under one data directory."""

    root: Path

    @classmethod
    def from_env(cls) -> DataPaths:
        configured = os.environ.get("CREDIT_DATA_DIR")
        return cls(Path(configured).resolve() if configured else PROJECT_ROOT / "data")

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def quarantine(self) -> Path:
        """Rejected deliveries, each beside the JSON report of what is wrong with it."""
        return self.root / "quarantine"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def training_sets(self) -> Path:
        return self.root / "training_sets"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def serving(self) -> Path:
        """What BI tools open: Parquet per month and `credit_bi.duckdb`, views over them.

        Written by `warehouse/publishing/bi_copy.py`.
        """
        return self.root / "serving"

    @property
    def notifications(self) -> Path:
        """Every notification sent (run results, rejected files, check warnings), one JSON object per line."""
        return self.root / "notifications.log"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def reports(self) -> Path:
        """Each published month's HTML report (`reports/YYYY-MM.html`): written by its run and by `credit report`."""
        return self.root / "reports"

    @property
    def decisions(self) -> Path:
        """The online service's decision log, a JSON-lines file a day (`warehouse/online/decision_log.py`)."""
        return self.root / "decisions"

    @property
    def logs(self) -> Path:
        """The full Dagster and dbt log of each month run from the command line."""
        return self.root / "logs"

    @property
    def dbt_target(self) -> Path:
        """dbt's target folder for runs on this warehouse; its parse cache is valid for this path only."""
        return self.root / "dbt_target"

    def create(self) -> DataPaths:
        for folder in (self.root, self.inbox, self.quarantine, self.training_sets, self.models, self.outbox):
            folder.mkdir(parents=True, exist_ok=True)
        return self
