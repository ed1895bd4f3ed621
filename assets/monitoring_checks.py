"""Warnings on the monitoring marts as asset checks: drift, fairness, new values, realised performance.

dbt computes the figures and decides every warning once (`dbt_project/models/monitoring`,
model `monitoring_warnings`, lines set as dbt vars); each check reads the month's warnings of
its kind, in the words `credit status` and the month report use too. A failed check is a
warning, not an error: it shows in the UI, in the run's notification, and never stops the outbox.
A month whose warnings were not computed (the monitoring build stopped before deciding them) fails
its checks and says so: it never passes as a month without warnings.
"""

import functools
import warnings
from datetime import date

import dagster as dg

from assets.dbt_models import (
    DRIFT,
    FAIRNESS,
    MONITORING_MONTHS_EVALUATED,
    MONITORING_WARNINGS,
    PERFORMANCE,
    UNSEEN_LEVELS,
)
from assets.partitions import monthly_partitions, partition_month
from assets.resources import WarehouseResource
from warehouse.dbt_vars import (
    DRIFT_PSI_WARNING_VAR,
    FAIRNESS_APPROVAL_RATIO_WARNING_VAR,
    PERFORMANCE_AUC_DROP_WARNING_VAR,
    dbt_var,
)
from warehouse.monitoring_warnings import (
    MonitoringWarning,
    WarningKind,
    WarningsNotComputed,
    month_warnings,
)
from warehouse.month_tables import MONITORING_TABLES

# Month by month like the assets they check; Dagster marks partitioned checks as a preview.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)

# For the checks' texts only: the warnings model decides with the same vars.
PSI_LINE = dbt_var(DRIFT_PSI_WARNING_VAR)
APPROVAL_RATIO_LINE = dbt_var(FAIRNESS_APPROVAL_RATIO_WARNING_VAR)
AUC_DROP_LINE = dbt_var(PERFORMANCE_AUC_DROP_WARNING_VAR)


def _month_rows(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, sql: str
) -> tuple[date, list[tuple]]:
    """The checked month and the rows `sql` gives for it (its one parameter is the month)."""
    month = partition_month(context.partition_key)
    with warehouse.warehouse_engine().month_results(month, MONITORING_TABLES) as results:
        return month, results.execute(sql, [month]).fetchall()


def _month_warnings(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, kind: WarningKind
) -> list[MonitoringWarning]:
    """The checked month's warnings of the kind; raises WarningsNotComputed (the check fails on it, see below)."""
    month = partition_month(context.partition_key)
    with warehouse.warehouse_engine().month_results(month, MONITORING_TABLES) as results:
        return month_warnings(results, month, kind)


def _failed_when_not_computed(check):
    """A check whose month's warnings were not computed fails (as a warning) saying so, rather than passing."""

    @functools.wraps(check)
    def checked(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        try:
            return check(context, warehouse)
        except WarningsNotComputed as not_computed:
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description=str(not_computed))

    return checked


def _monthly_check(asset: dg.AssetKey, description: str):
    """A month-partitioned check of a monitoring mart, in the warehouse pool like the steps it reads after.

    Shown on the mart it judges, it runs once the warnings model that decides it, and the list of
    the months it decided, are built.
    """
    check = dg.asset_check(
        asset=asset,
        additional_deps=[MONITORING_WARNINGS, MONITORING_MONTHS_EVALUATED],
        partitions_def=monthly_partitions,
        description=description,
        pool="warehouse",
    )
    return lambda function: check(_failed_when_not_computed(function))


def _table(header: tuple[str, ...], rows: list[tuple]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _messages(found: list[MonitoringWarning], separator: str = ", ") -> str:
    return separator.join(warning.message for warning in found)


def _warning_result(found: list[MonitoringWarning], warned: str, clear: str, metadata: dict) -> dg.AssetCheckResult:
    """Passed when the month has no warning of the kind; otherwise a warning (never an error) that says which."""
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        description=warned if found else clear,
        metadata=metadata,
    )


@_monthly_check(
    DRIFT,
    f"Warns when the month's PSI of a feature or of the score, against the development sample of the model that "
    f"scored it, exceeds {PSI_LINE}, and when the month's features were not measured (its model has no baseline).",
)
def drift_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month, rows = _month_rows(
        context,
        warehouse,
        "select subject, subject_kind, psi from monitoring.drift where application_month = ? order by psi desc",
    )
    drifted = _month_warnings(context, warehouse, WarningKind.DRIFT)
    score_psi = next((psi for subject, _, psi in rows if subject == "score"), float("nan"))
    return _warning_result(
        drifted,
        f"drift in {month:%Y-%m}: {_messages(drifted)}",
        f"no PSI above {PSI_LINE} in {month:%Y-%m} ({len(rows)} subjects)",
        {
            "drifted": dg.MetadataValue.int(len(drifted)),
            "score_psi": dg.MetadataValue.float(score_psi),
            "largest": _table(("subject", "kind", "psi"), rows[:10]),
        },
    )


@_monthly_check(
    FAIRNESS,
    f"Warns when a protected group's (or an age band's) approval rate is below {APPROVAL_RATIO_LINE} of the most "
    "approved group's; groups too small to judge are shown, never warned on.",
)
def fairness_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month, rows = _month_rows(
        context,
        warehouse,
        "select group_column, group_value, applications, judged, reference_group, approval_rate, approval_rate_ratio,"
        " auc from monitoring.fairness where application_month = ? order by group_column, group_value",
    )
    flagged = _month_warnings(context, warehouse, WarningKind.FAIRNESS)
    return _warning_result(
        flagged,
        f"approval-rate ratio below {APPROVAL_RATIO_LINE} in {month:%Y-%m}: {_messages(flagged)}",
        f"approval-rate ratios of {month:%Y-%m} all at least {APPROVAL_RATIO_LINE} among groups large enough to judge",
        {
            "groups": _table(
                ("attribute", "group", "applications", "judged", "reference", "approval rate", "ratio", "AUC"), rows
            )
        },
    )


@_monthly_check(
    UNSEEN_LEVELS,
    "Warns when the month's applications carry a categorical value never seen before: scored through the column's "
    "`__unseen` feature, and named here with how many applications carry it.",
)
def unseen_level_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month = partition_month(context.partition_key)
    new_values = _month_warnings(context, warehouse, WarningKind.NEW_VALUE)
    rows = [(warning.subject, warning.subject_value, int(warning.metric_value)) for warning in new_values]
    return _warning_result(
        new_values,
        f"values never seen before in {month:%Y-%m} (scored as unseen levels): {_messages(new_values, '; ')}",
        f"no value never seen before in {month:%Y-%m}",
        {
            "values": _table(("column", "value", "applications"), rows),
            "applications": dg.MetadataValue.int(sum(applications for _, _, applications in rows)),
        },
    )


@_monthly_check(
    PERFORMANCE,
    f"Warns when the month's realised AUC is more than {AUC_DROP_LINE} below the scoring model's validation AUC.",
)
def performance_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month, rows = _month_rows(
        context,
        warehouse,
        "select labelled, auc, ks, validation_auc, model_version from monitoring.performance"
        " where application_month = ?",
    )
    if not rows or rows[0][1] is None:
        return dg.AssetCheckResult(
            passed=True, description=f"no outcomes known for {month:%Y-%m} yet: nothing to judge"
        )
    labelled, auc, ks, validation_auc, version = rows[0]
    if validation_auc is None:
        # Nothing to compare the realised AUC with: say so, rather than pass a comparison never made.
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"realised AUC {auc:.4f} of {month:%Y-%m} not judged: "
            f"model {version} has no validation AUC in the registry",
        )
    dropped = _month_warnings(context, warehouse, WarningKind.PERFORMANCE)
    return _warning_result(
        dropped,
        f"realised AUC more than {AUC_DROP_LINE} below the validation AUC in {month:%Y-%m}: {_messages(dropped)}",
        f"realised AUC {auc:.4f} on {labelled:,} outcomes of {month:%Y-%m}: "
        f"no drop of more than {AUC_DROP_LINE} below the validation AUC of {version}",
        {
            "realised_auc": dg.MetadataValue.float(auc),
            "realised_ks": dg.MetadataValue.float(ks) if ks is not None else dg.MetadataValue.text("-"),
            "validation_auc": (
                dg.MetadataValue.float(validation_auc) if validation_auc is not None else dg.MetadataValue.text("-")
            ),
            "labelled": dg.MetadataValue.int(labelled),
        },
    )


MONITORING_CHECKS = [drift_warnings, fairness_warnings, unseen_level_warnings, performance_warnings]
