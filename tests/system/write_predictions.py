"""A real process that writes a month of predictions with `replace_month`, for the crash tests.

    python -m tests.system.write_predictions WAREHOUSE YYYY-MM ROWS MODEL_VERSION

Prints "writing" just before the transaction starts and "committed" after it ends.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.database import connect
from warehouse.ingestion.delivery_names import parse_month
from warehouse.publishing.predictions_table import replace_month


def predictions(month, rows: int, model_version: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sk_id_curr": np.arange(1, rows + 1, dtype=np.int64),
            "application_month": month,
            "default_probability": np.linspace(0.01, 0.5, rows),
            "risk_grade": "C",
            "decision": "approve",
            **{f"reason_code_{i}": None for i in (1, 2, 3, 4)},
            **{f"reason_{i}": None for i in (1, 2, 3, 4)},
            "model_version": model_version,
            "review_from": 0.12,
            "decline_from": 0.30,
            "scored_at": datetime(2021, 1, 2),
        }
    )


def write_predictions(warehouse: Path, month, rows: int, model_version: str) -> None:
    frame = predictions(month, rows, model_version)
    with connect(warehouse) as connection:
        print("writing", flush=True)
        replace_month(connection, month, frame)
    print("committed", flush=True)


if __name__ == "__main__":
    warehouse, month_text, rows, model_version = sys.argv[1:]
    write_predictions(Path(warehouse), parse_month(month_text), int(rows), model_version)
