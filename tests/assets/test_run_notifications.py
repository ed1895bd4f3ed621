"""A failed run's notification leads with what went wrong, dbt's own errors included."""

from __future__ import annotations

import inspect

from dagster_dbt import DbtCliInvocation

from assets.run_notifications import DBT_ERRORS_HEADER, MAX_ERROR_CHARACTERS, dbt_errors_first

COMMAND = "dbt build --exclude-resource-type unit_test --vars " + "x" * 3_000


def test_dagster_dbt_still_introduces_dbts_errors_with_the_header():
    assert DBT_ERRORS_HEADER in inspect.getsource(DbtCliInvocation._format_error_messages)


def test_dbts_errors_come_before_a_long_command_so_the_summary_and_the_cap_keep_them():
    message = (
        f"The dbt CLI process with command\n\n`{COMMAND}`\n\nfailed with exit code `1`.\n\n"
        f"{DBT_ERRORS_HEADER}\n\nFailure in test not_null_fct_application_features_sk_id_curr\n\nGot 3 results"
    )
    first = dbt_errors_first(message)
    assert first.splitlines()[0] == "dbt failed: Failure in test not_null_fct_application_features_sk_id_curr"
    assert "Got 3 results" in first[:MAX_ERROR_CHARACTERS] and COMMAND in first, "nothing is lost, only moved"


def test_other_errors_are_left_as_they_are():
    assert dbt_errors_first("2020-11: no delivery file in the inbox") == "2020-11: no delivery file in the inbox"
    assert dbt_errors_first(f"The dbt CLI process failed.\n\n{DBT_ERRORS_HEADER}\n\n").startswith("The dbt CLI")
