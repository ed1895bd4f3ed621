"""The month's scores for external systems: `outbox/pred_YYYYMMDD.csv`, written whole or not at all.

Written with `atomic_write`: a reader polling the folder sees either no file or the
complete one, never half of it. The file is read straight from
`scoring.predictions` by DuckDB's CSV writer, so the numbers are the ones BI sees.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from warehouse.atomic_files import atomic_write

OUTBOX_COLUMNS_SQL = """
select
    sk_id_curr as "SK_ID_CURR",
    round(default_probability, 6) as "DEFAULT_PROBABILITY",
    risk_grade as "RISK_GRADE",
    decision as "DECISION",
    reason_code_1 as "REASON_CODE_1",
    reason_code_2 as "REASON_CODE_2",
    reason_code_3 as "REASON_CODE_3",
    reason_code_4 as "REASON_CODE_4",
    reason_1 as "REASON_1",
    reason_2 as "REASON_2",
    reason_3 as "REASON_3",
    reason_4 as "REASON_4",
    model_version as "MODEL_VERSION"
from scoring.predictions
where application_month = ?
order by sk_id_curr
"""


def outbox_file_name(month: date) -> str:
    return f"pred_{month:%Y%m%d}.csv"


def write_outbox(connection: duckdb.DuckDBPyConnection, month: date, outbox: Path) -> tuple[Path, int]:
    """Write the month's scores to `outbox/pred_YYYYMMDD.csv`; returns the path and the row count."""
    outbox.mkdir(parents=True, exist_ok=True)
    final = outbox / outbox_file_name(month)
    rows = connection.sql(OUTBOX_COLUMNS_SQL, params=[month])
    count = rows.count("*").fetchall()[0][0]
    if count == 0:
        raise ValueError(f"scoring.predictions holds no row for {month:%Y-%m}: nothing to publish")
    with atomic_write(final) as temporary:
        rows.write_csv(str(temporary), header=True)
    return final, count
