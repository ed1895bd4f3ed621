"""`scoring.predictions`: one row per scored application, replaced a month at a time."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse.database import transaction

# Reg B's commentary: more than four principal reasons do not help the applicant. The table,
# the outbox and the reasons all have this many slots.
REASON_SLOTS = 4

PREDICTION_COLUMNS = (
    "sk_id_curr",
    "application_month",
    "default_probability",
    "risk_grade",
    "decision",
    *(f"reason_code_{slot}" for slot in range(1, REASON_SLOTS + 1)),
    *(f"reason_{slot}" for slot in range(1, REASON_SLOTS + 1)),
    "model_version",
    "review_from",
    "decline_from",
    "scored_at",
)


def replace_month(connection: duckdb.DuckDBPyConnection, month: date, predictions: pd.DataFrame) -> int:
    """Delete the month and insert its new predictions in one transaction; returns the rows written."""
    months = set(pd.to_datetime(predictions["application_month"]).dt.date)
    if months - {month}:
        raise ValueError(f"predictions for {sorted(months - {month})} passed as month {month:%Y-%m}")
    scored = pa.Table.from_pandas(predictions.loc[:, list(PREDICTION_COLUMNS)], preserve_index=False)
    connection.register("scored_applications", scored)
    try:
        with transaction(connection):
            connection.execute("delete from scoring.predictions where application_month = ?", [month])
            connection.execute(
                """
                insert into scoring.predictions by name
                select * from scored_applications
                """
            )
    finally:
        connection.unregister("scored_applications")
    return len(predictions)


# Outcomes as known today, one per application: dbt's view over the labels' validity intervals.
LABELS_KNOWN_TODAY = "intermediate.int_labels_known_today"

MONTHLY_SUMMARY_SQL = f"""
with labels as (select * from {LABELS_KNOWN_TODAY})
select
    p.application_month,
    count(*) as rows_scored,
    avg(p.default_probability) as mean_probability,
    avg(case when p.decision = 'decline' then 1.0 else 0.0 end) as decline_rate,
    avg(case when p.decision = 'review' then 1.0 else 0.0 end) as review_rate,
    count(labels.target) as labelled_rows,
    avg(labels.target) as observed_default_rate,
    any_value(p.model_version) as model_version
from scoring.predictions as p
left join labels using (sk_id_curr)
group by p.application_month
order by p.application_month
"""


def monthly_summary(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per month: rows scored, mean probability, decline and review rates, observed default rate."""
    summary = connection.sql(MONTHLY_SUMMARY_SQL).df()
    summary["application_month"] = pd.to_datetime(summary["application_month"]).dt.date
    return summary


def scored_with_labels(connection: duckdb.DuckDBPyConnection, month: date) -> pd.DataFrame:
    """A month's probabilities beside the outcomes known for it today (null where not yet known)."""
    return connection.sql(
        f"""
        with labels as (select * from {LABELS_KNOWN_TODAY})
        select p.sk_id_curr, p.default_probability, labels.target
        from scoring.predictions as p
        left join labels using (sk_id_curr)
        where p.application_month = ?
        order by p.sk_id_curr
        """,
        params=[month],
    ).df()
