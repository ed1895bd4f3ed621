"""Reading the warnings model: a month evaluated without warnings has none; one never evaluated, not computed."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from warehouse.monitoring_warnings import (
    WarningKind,
    WarningsNotComputed,
    month_warnings,
    not_computed_message,
    warnings_evaluated,
)
from warehouse.status_queries import latest_warnings

OCTOBER, NOVEMBER = date(2020, 10, 1), date(2020, 11, 1)
SCORED, SCORED_AGAIN = datetime(2020, 11, 3, 8), datetime(2020, 12, 2, 8)


@pytest.fixture
def connection():
    """October's and November's drift; the warnings as the monitoring build last decided them.

    It decided September (delivered, not scored: one new value) and October (no warning), not November.
    """
    with duckdb.connect() as connection:
        connection.execute("create schema monitoring")
        connection.execute(
            "create table monitoring.drift as select * from (values"
            f" (date '{OCTOBER}', 'score', 0.01, timestamp '{SCORED}'),"
            f" (date '{NOVEMBER}', 'score', 0.4, timestamp '{SCORED_AGAIN}'))"
            " as drift(application_month, subject, psi, scored_at)"
        )
        connection.execute(
            "create table monitoring.monitoring_warnings as select * from (values"
            " (date '2020-09-01', 1, 'new value', 'code_gender', 'X', 2, 'code_gender ''X'' never seen before'))"
            " as warnings(application_month, warning_order, warning_kind, subject, subject_value, metric_value,"
            " message)"
        )
        connection.execute(
            "create table monitoring.monitoring_months_evaluated as select * from (values"
            " (date '2020-09-01', null, 1),"
            f" (date '{OCTOBER}', timestamp '{SCORED}', 0))"
            " as evaluated(application_month, drift_scored_at, warnings)"
        )
        yield connection


def test_an_evaluated_month_without_warnings_has_none(connection):
    assert warnings_evaluated(connection, OCTOBER)
    assert month_warnings(connection, OCTOBER) == []
    assert month_warnings(connection, date(2020, 9, 1), WarningKind.DRIFT) == []
    assert [warning.subject_value for warning in month_warnings(connection, date(2020, 9, 1))] == ["X"]
    connection.execute("delete from monitoring.drift where application_month = ?", [NOVEMBER])
    assert latest_warnings(connection) == (OCTOBER, [])


def test_a_month_in_drift_the_warnings_never_evaluated_is_not_computed(connection):
    # November's PSI of 0.4 is in drift, but the build stopped before deciding its warnings.
    assert not warnings_evaluated(connection, NOVEMBER)
    with pytest.raises(WarningsNotComputed, match="not computed") as raised:
        month_warnings(connection, NOVEMBER, WarningKind.DRIFT)
    assert str(raised.value) == (
        "warnings of 2020-11: not computed (the monitoring build did not finish; see the month's run)"
    )
    assert latest_warnings(connection) == (NOVEMBER, None)
    assert not_computed_message(NOVEMBER) == str(raised.value)


def test_a_month_scored_again_since_its_warnings_were_decided_is_not_computed(connection):
    connection.execute("update monitoring.drift set scored_at = ? where subject = 'score'", [SCORED_AGAIN])
    assert not warnings_evaluated(connection, OCTOBER)
    with pytest.raises(WarningsNotComputed):
        month_warnings(connection, OCTOBER)


def test_nothing_is_computed_before_the_monitoring_build_made_its_list(connection):
    connection.execute("drop table monitoring.monitoring_months_evaluated")
    assert not warnings_evaluated(connection, OCTOBER)
    assert latest_warnings(connection) == (NOVEMBER, None)
