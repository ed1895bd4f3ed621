"""The monitoring checks on a month whose warnings were not computed: they fail (as warnings) and say so."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.dbt_models import MONITORING_MONTHS_EVALUATED, MONITORING_WARNINGS
from assets.monitoring_checks import MONITORING_CHECKS, _failed_when_not_computed
from warehouse.monitoring_warnings import WarningsNotComputed


def test_a_check_whose_warnings_were_not_computed_fails_as_a_warning_saying_so():
    def drift_warnings(context, warehouse):
        raise WarningsNotComputed(date(2020, 11, 1))

    result = _failed_when_not_computed(drift_warnings)(None, None)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.description == (
        "warnings of 2020-11: not computed (the monitoring build did not finish; see the month's run)"
    )


def test_every_check_runs_after_the_warnings_and_the_months_they_were_decided_for():
    for check in MONITORING_CHECKS:
        [spec] = check.check_specs
        assert {dep.asset_key for dep in spec.additional_deps} >= {MONITORING_WARNINGS, MONITORING_MONTHS_EVALUATED}
