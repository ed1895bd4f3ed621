"""The tables of a month's results, by name: what the outbox, the asset checks and the month's report read.

Each has the month column; `intermediate.int_labels_known_today` (the labels known of each
application) is read beside them. On Spark a step asks for the ones it reads, and only the
month's rows of those are brought over (`warehouse/spark/month_results.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse.publishing.predictions_table import LABELS_KNOWN_TODAY

PREDICTIONS = "scoring.predictions"
MONITORING_TABLES = (
    "monitoring.drift",
    "monitoring.fairness",
    "monitoring.performance",
    "monitoring.performance_by_grade",
    "monitoring.unseen_levels",
    "monitoring.monitoring_warnings",
    "monitoring.monitoring_months_evaluated",
)
MONTH_TABLES = (PREDICTIONS, *MONITORING_TABLES)
EVERY_RESULT = (*MONTH_TABLES, LABELS_KNOWN_TODAY)


def checked_tables(tables: Sequence[str]) -> tuple[str, ...]:
    """`tables`, each one of `EVERY_RESULT` (on Spark their names are written into SQL)."""
    unknown = sorted(set(tables) - set(EVERY_RESULT))
    if unknown:
        raise ValueError(f"not a table of a month's results: {', '.join(unknown)}")
    return tuple(tables)
