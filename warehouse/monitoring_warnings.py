"""The monitoring warnings as dbt decides them (`monitoring.monitoring_warnings`), for whoever shows them.

The asset checks, `credit status` and the month report read them here, so all three warn on
the same things in the same words; the lines they are drawn at are dbt vars (`warehouse.dbt_vars`).

A month without rows in the model has no warnings only if the model was built for it: when a
test on a mart it reads fails, dbt skips it and its table keeps the last build's months, while
`drift` (incremental) may already hold the month's PSIs. `monitoring.monitoring_months_evaluated`,
built from the warnings in the same step, lists the months they were decided for; a month missing
there reads as "not computed", never as "none".
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


class WarningsNotComputed(RuntimeError):
    """The month's warnings were not decided (or not since its figures changed): there is no list to show."""

    def __init__(self, month: date) -> None:
        super().__init__(not_computed_message(month))
        self.month = month


def not_computed_message(month: date) -> str:
    """The one sentence `credit status`, the month report and the asset checks give for such a month."""
    return f"warnings of {month:%Y-%m}: not computed (the monitoring build did not finish; see the month's run)"


def warnings_evaluated(connection: duckdb.DuckDBPyConnection, month: date) -> bool:
    """Whether `monitoring_warnings` holds the month's warnings as decided from its current drift figures.

    False before monitoring was first built, for a month the last complete build did not cover, and
    for a month scored again (its `drift` rows carry another `scored_at`) whose warnings were not decided since.
    """
    # Built from `drift`, so where it is, `drift` is too.
    if not has_table(connection, "monitoring", "monitoring_months_evaluated"):
        return False
    [(evaluated,)] = connection.execute(
        "select count(*) > 0 from monitoring.monitoring_months_evaluated where application_month = ?"
        " and drift_scored_at is not distinct from"
        " (select max(scored_at) from monitoring.drift where application_month = ?)",
        [month, month],
    ).fetchall()
    return evaluated


def month_warnings(
    connection: duckdb.DuckDBPyConnection, month: date, kind: WarningKind | None = None
) -> list[MonitoringWarning]:
    """The month's warnings in the model's order, of every kind or of one; [] when it was evaluated and none warned.

    Raises WarningsNotComputed when the model was not built for the month (see `warnings_evaluated`).
    """
    if not warnings_evaluated(connection, month):
        raise WarningsNotComputed(month)
    rows = connection.execute(
        "select warning_kind, subject, subject_value, metric_value, message"
        " from monitoring.monitoring_warnings"
        " where application_month = ? and (? is null or warning_kind = ?) order by warning_order",
        [month, kind, kind],
    ).fetchall()
    return [MonitoringWarning(*row) for row in rows]
