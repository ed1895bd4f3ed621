"""The month report on a month whose warnings were not computed: it says so, never "No PSI above"."""

from __future__ import annotations

from datetime import date

import duckdb

from ml.reports.month_report import _drift_section, _fairness_section, _unseen_section

NOT_COMPUTED = "Warnings of 2020-11: not computed (the monitoring build did not finish; see the month&#x27;s run)."


def test_a_month_with_psis_whose_warnings_were_never_decided_says_not_computed():
    with duckdb.connect() as connection:
        connection.execute("create schema monitoring")
        connection.execute(
            "create table monitoring.drift as select date '2020-11-01' as application_month, 'score' as subject,"
            " 'score' as subject_kind, 0.4 as psi, timestamp '2020-12-02 08:00:00' as scored_at"
        )
        connection.execute(
            "create table monitoring.fairness as select date '2020-11-01' as application_month,"
            " 'code_gender' as group_column, 'F' as group_value, 100 as applications, true as judged,"
            " 'M' as reference_group, 0.1 as mean_probability, 0.9 as approval_rate,"
            " 1.0 as approval_rate_ratio, 0 as labelled, null as default_rate, null as auc"
        )
        month = date(2020, 11, 1)
        drift = _drift_section(connection, month)
        assert NOT_COMPUTED in drift and "No PSI above" not in drift
        assert NOT_COMPUTED in _fairness_section(connection, month)
        assert NOT_COMPUTED in _unseen_section(connection, month)
