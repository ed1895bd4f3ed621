"""The monitoring warnings as dbt decides them (`monitoring.monitoring_warnings`), for whoever shows them.

The asset checks, `credit status` and the month report read them here, so all three warn on
the same things in the same words; the lines they are drawn at are dbt vars (`warehouse.dbt_vars`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import duckdb

from warehouse.database import has_table


class WarningKind(StrEnum):
    """The model's `warning_kind`: what crossed a line, as people read it."""

    DRIFT = "drift"
    FAIRNESS = "fairness"
    PERFORMANCE = "performance"
    NEW_VALUE = "new value"


@dataclass(frozen=True)
class MonitoringWarning:
    kind: str
    subject: str
    subject_value: str | None  # the group (fairness) or the value never seen before (new value)
    metric_value: float  # the figure past its line; for a new value, the applications that carry it
    message: str


def month_warnings(
    connection: duckdb.DuckDBPyConnection, month: date, kind: WarningKind | None = None
) -> list[MonitoringWarning]:
    """The month's warnings in the model's order, of every kind or of one; none before monitoring was first built."""
    if not has_table(connection, "monitoring", "monitoring_warnings"):
        return []
    rows = connection.execute(
        "select warning_kind, subject, subject_value, metric_value, message"
        " from monitoring.monitoring_warnings"
        " where application_month = ? and (? is null or warning_kind = ?) order by warning_order",
        [month, kind, kind],
    ).fetchall()
    return [MonitoringWarning(*row) for row in rows]
