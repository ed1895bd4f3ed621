"""A warehouse of schema 4 (predictions and registry in `marts`) moves to schema 5 on first write, losing nothing."""

from __future__ import annotations

import duckdb

from warehouse.database import MODEL_REGISTRY_DDL, PREDICTIONS_DDL, SCHEMA_VERSION, connect


def test_a_schema_4_warehouse_keeps_every_decision_and_model_in_schema_scoring(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute("create schema raw; create schema marts")
        old.execute(
            "create table raw.warehouse_info (schema_version integer not null);"
            " insert into raw.warehouse_info values (4)"
        )
        old.execute(PREDICTIONS_DDL.replace("scoring.", "marts."))
        old.execute(MODEL_REGISTRY_DDL.replace("scoring.", "marts."))
        columns = [row[0] for row in old.execute("select column_name from (describe marts.predictions)").fetchall()]
        values = {
            "sk_id_curr": 100002,
            "application_month": "2020-10-01",
            "default_probability": 0.2,
            "risk_grade": "C",
            "decision": "review",
            "model_version": "2020-10.abc",
            "review_from": 0.12,
            "decline_from": 0.3,
            "scored_at": "2020-10-02 08:00:00",
        }
        old.execute(
            f"insert into marts.predictions ({', '.join(values)}) values ({', '.join('?' for _ in values)})",
            list(values.values()),
        )
    with connect(path) as warehouse:
        assert warehouse.execute("select max(schema_version) from raw.warehouse_info").fetchone() == (SCHEMA_VERSION,)
        moved = warehouse.execute("select sk_id_curr, decision, model_version from scoring.predictions").fetchall()
        assert moved == [(100002, "review", "2020-10.abc")]
        assert [
            row[0] for row in warehouse.execute("select column_name from (describe scoring.predictions)").fetchall()
        ] == columns
        left = warehouse.execute(
            "select count(*) from duckdb_tables()"
            " where schema_name = 'marts' and table_name in ('predictions', 'model_registry')"
        ).fetchone()
        assert left == (0,)
