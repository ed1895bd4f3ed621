"""BI reads only the serving copy: Parquet per month and credit_bi.duckdb, through SQLAlchemy (duckdb-engine).

The concurrency test reads in a loop, as a dashboard would, while another process runs
a month: no read may fail on a lock, and every read must see each month whole.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy
from sqlalchemy.pool import NullPool

from tests.system.conftest import copy_of
from warehouse.database import connect, quote_identifier
from warehouse.paths import DataPaths
from warehouse.publishing.bi_copy import SERVED_TABLES, SERVING_DATABASE

MONTH_FILES = {date(2020, 10, 1): "20201001.csv", date(2020, 11, 1): "20201101.csv", date(2020, 12, 1): "20201201.csv"}


@pytest.fixture(scope="module")
def served(two_months_run, tmp_path_factory) -> DataPaths:
    """October and November published; December's file waits in the inbox for the concurrency test."""
    return copy_of(two_months_run.paths, tmp_path_factory.mktemp("serving") / "data")


def bi_engine(paths: DataPaths) -> sqlalchemy.Engine:
    """What Superset does with `duckdb:///.../credit_bi.duckdb`; NullPool so each read opens the current file."""
    return sqlalchemy.create_engine(
        f"duckdb:///{paths.serving / SERVING_DATABASE}", connect_args={"read_only": True}, poolclass=NullPool
    )


def test_the_serving_database_holds_views_equal_to_the_warehouse_tables(served):
    engine = bi_engine(served)
    with engine.connect() as bi, connect(served.warehouse, read_only=True) as warehouse:
        views = set(bi.execute(sqlalchemy.text("select view_name from duckdb_views() where not internal")).scalars())
        assert views == {table.name for table in SERVED_TABLES}
        tables = set(bi.execute(sqlalchemy.text("select table_name from duckdb_tables()")).scalars())
        assert tables == set(), "the serving file holds no data of its own"
        for table in SERVED_TABLES:
            order = "application_month, sk_id_curr" if table.name == "predictions" else "all"
            # Table names are identifiers, not values: quoted, each checked to be a plain name.
            view = quote_identifier(table.name)
            source = ".".join(quote_identifier(part) for part in table.source.split("."))
            served_rows = pd.read_sql(f"select * from {view} order by {order}", bi)
            warehouse_rows = warehouse.execute(f"select * from {source} order by {order}").df()
            assert len(served_rows) == len(warehouse_rows), table.name
            # No month here brought a new value; warnings depend on the sample.
            assert len(served_rows) > 0 or table.name in ("unseen_levels", "monitoring_warnings"), table.name
            assert set(served_rows.columns) == set(warehouse_rows.columns), table.name
    # Closed at once: DuckDB keeps a database open in this process while any connection to it is.
    with engine.connect() as bi:
        months = pd.read_sql("select distinct application_month from predictions order by 1", bi)
    assert list(pd.to_datetime(months["application_month"]).dt.date) == [date(2020, 10, 1), date(2020, 11, 1)]
    assert not list(served.serving.rglob("*.partial")), "no temporary file is left behind"


def test_bi_reads_never_block_or_see_part_of_a_month_while_a_month_runs(served, deliveries_dir, tmp_path):
    expected = {
        month: len(pd.read_csv(deliveries_dir / name, usecols=["SK_ID_CURR"])) for month, name in MONTH_FILES.items()
    }
    engine = bi_engine(served)
    terminal = tmp_path / "terminal.txt"
    with terminal.open("w") as printed:
        run = subprocess.Popen(
            [str(shutil.which("credit", path=os.path.dirname(sys.executable))), "run", "2020-12", "--trials", "2"],
            env={**os.environ, "CREDIT_DATA_DIR": str(served.root)},
            stdout=printed,
            stderr=subprocess.PIPE,
            text=True,
        )
    reads, seen_december = 0, False
    while True:
        finished = run.poll() is not None
        with engine.connect() as bi:
            counts = dict(
                bi.execute(sqlalchemy.text("select application_month, count(*) from predictions group by 1")).fetchall()
            )
            per_month_rows = dict(
                bi.execute(sqlalchemy.text("select application_month, count(*) from performance group by 1")).fetchall()
            )
        reads += 1
        for month, rows in counts.items():
            assert rows == expected[month], f"{month}: {rows} rows of {expected[month]} (read {reads})"
        # Tables are republished one after another, so Dec may show in one before another; each month is whole.
        assert set(per_month_rows.values()) <= {1}
        seen_december = date(2020, 12, 1) in counts
        if finished:
            break
        # A dashboard's refresh, not a busy loop (reading flat out took a core from the run it watches;
        # every quarter second, 9 s of CPU): the next read comes half a second later, or as soon as the run ends.
        try:
            run.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    assert run.returncode == 0, run.stderr.read()[-3000:]
    assert seen_december, "the month run's publish is visible to the next read"
    assert reads >= 5, f"only {reads} reads during the run: the test proved little"
    assert_quiet_with_the_full_log_in_a_file(terminal.read_text(encoding="utf-8"), run.stderr.read(), served)


def assert_quiet_with_the_full_log_in_a_file(printed: str, printed_to_stderr: str, paths: DataPaths) -> None:
    """`credit run` that goes well: a line per step and the result on one screen; Dagster's and dbt's log in a file.

    The month's run, then the next month's model trained ahead, as `credit run` does unless told not to.
    """
    lines = printed.splitlines()
    assert len(lines) <= 30, printed
    assert printed_to_stderr == "", "warnings go to the log file"
    assert any(line.split()[1:3] == ["credit_dbt_models", "done"] for line in lines), printed
    [month_result] = [line for line in lines if line.startswith("2020-12: succeeded in ")]
    assert "credit 2020-12: run " in printed
    assert lines[-1].startswith("2021-01 model: succeeded in "), "then January's model, trained ahead"
    log_file = Path(month_result.rsplit(" ", 1)[1])
    assert log_file.parent == paths.logs and log_file.name.startswith("run-2020-12-")
    log = log_file.read_text(encoding="utf-8")
    assert 'STEP_SUCCESS - Finished execution of step "credit_dbt_models"' in log and "RUN_SUCCESS" in log
    assert "Running with dbt=" in log and "PASS not_null_" in log, "dbt's own output"
    assert "Running dbt command: `dbt build" in log, "what dbt was asked, logged before it starts"
    assert "tuning trial 2/2" in log


def test_the_warehouse_itself_stays_free_for_runs_while_bi_reads(served):
    with bi_engine(served).connect() as bi:
        bi.execute(sqlalchemy.text("select count(*) from predictions")).fetchall()
        # A BI connection is open; the warehouse can still be opened for writing.
        writer = duckdb.connect(str(served.warehouse))
        writer.close()
