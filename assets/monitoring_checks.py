"""Warnings on the monitoring marts: drift, fairness and realised performance, as asset checks.

The figures are computed in dbt (`dbt_project/models/monitoring`); these checks read the
month's rows and say in words what crossed a line. A failed check is a warning, not an
error: it shows in the UI, in the run's notification, and never stops the outbox.
"""

import warnings
from datetime import date

import dagster as dg

from assets.dbt_models import DRIFT, FAIRNESS, PERFORMANCE, UNSEEN_LEVELS
from assets.partitions import monthly_partitions, partition_month
from assets.resources import WarehouseResource
from warehouse.database import connect
from warehouse.monitoring_thresholds import APPROVAL_RATIO_WARNING, AUC_DROP_WARNING, PSI_WARNING
from warehouse.status_queries import describe_fairness_flag, describe_unseen_level, unseen_levels


# Month by month like the assets they check; Dagster marks partitioned checks as a preview.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning)


def _month_rows(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, sql: str) -> tuple[date, list[tuple]]:
    """The checked month and the rows `sql` gives for it (its one parameter is the month)."""
    month = partition_month(context.partition_key)
    with connect(warehouse.paths.warehouse, read_only=True) as connection:
        return month, connection.execute(sql, [month]).fetchall()


def _monthly_check(asset: dg.AssetKey, description: str):
    """A month-partitioned check of a monitoring mart, in the warehouse pool like the steps it reads after."""
    return dg.asset_check(asset=asset, partitions_def=monthly_partitions, description=description, pool="warehouse")


def _table(header: tuple[str, ...], rows: list[tuple]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


@_monthly_check(
    DRIFT,
    f"Warns when the month's PSI of a feature or of the score against the training window exceeds {PSI_WARNING}.",
)
def drift_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month, rows = _month_rows(
        context,
        warehouse,
        "select subject, subject_kind, psi from monitoring.drift where application_month = ? order by psi desc",
    )
    drifted = [(subject, psi) for subject, _, psi in rows if psi > PSI_WARNING]
    return dg.AssetCheckResult(
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"PSI above {PSI_WARNING} in {month:%Y-%m}: " + ", ".join(f"{subject} {psi:.2f}" for subject, psi in drifted)
            if drifted else f"no PSI above {PSI_WARNING} in {month:%Y-%m} ({len(rows)} subjects)"
        ),
        metadata={
            "drifted": dg.MetadataValue.int(len(drifted)),
            "score_psi": dg.MetadataValue.float(next((psi for subject, _, psi in rows if subject == "score"), float("nan"))),
            "largest": _table(("subject", "kind", "psi"), rows[:10]),
        },
    )


@_monthly_check(
    FAIRNESS,
    f"Warns when a protected group's (or an age band's) approval rate is below {APPROVAL_RATIO_WARNING} of the most "
    "approved group's; groups too small to judge are shown, never warned on.",
)
def fairness_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month, rows = _month_rows(
        context,
        warehouse,
        "select group_column, group_value, applications, judged, reference_group, approval_rate, approval_rate_ratio, auc"
        " from monitoring.fairness where application_month = ? order by group_column, group_value",
    )
    flagged = [row for row in rows if row[3] and row[6] is not None and row[6] < APPROVAL_RATIO_WARNING]
    return dg.AssetCheckResult(
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"approval-rate ratio below {APPROVAL_RATIO_WARNING} in {month:%Y-%m}: "
            + ", ".join(describe_fairness_flag(column, value, ratio, reference) for column, value, _, _, reference, _, ratio, _ in flagged)
            if flagged else f"approval-rate ratios of {month:%Y-%m} all at least {APPROVAL_RATIO_WARNING} among groups large enough to judge"
        ),
        metadata={
            "groups": _table(("attribute", "group", "applications", "judged", "reference", "approval rate", "ratio", "AUC"), rows)
        },
    )


@_monthly_check(
    UNSEEN_LEVELS,
    "Warns when the month's applications carry a categorical value never seen before: scored through the column's "
    "`__unseen` feature, and named here with how many applications carry it.",
)
def unseen_level_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month = partition_month(context.partition_key)
    with connect(warehouse.paths.warehouse, read_only=True) as connection:
        rows = unseen_levels(connection, month)
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"values never seen before in {month:%Y-%m} (scored as unseen levels): "
            + "; ".join(describe_unseen_level(column, value, count) for column, value, count in rows)
            if rows else f"no value never seen before in {month:%Y-%m}"
        ),
        metadata={"values": _table(("column", "value", "applications"), rows), "applications": dg.MetadataValue.int(sum(r[2] for r in rows))},
    )


@_monthly_check(
    PERFORMANCE,
    f"Warns when the month's realised AUC is more than {AUC_DROP_WARNING} below the scoring model's validation AUC.",
)
def performance_warnings(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month, rows = _month_rows(
        context,
        warehouse,
        "select labelled, auc, ks, validation_auc, model_version from monitoring.performance where application_month = ?",
    )
    if not rows or rows[0][1] is None:
        return dg.AssetCheckResult(passed=True, description=f"no outcomes known for {month:%Y-%m} yet: nothing to judge")
    labelled, auc, ks, validation_auc, version = rows[0]
    dropped = validation_auc is not None and auc < validation_auc - AUC_DROP_WARNING
    return dg.AssetCheckResult(
        passed=not dropped,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"realised AUC {auc:.4f} on {labelled:,} outcomes of {month:%Y-%m} vs validation AUC {validation_auc:.4f} of {version}"
        ),
        metadata={
            "realised_auc": dg.MetadataValue.float(auc),
            "realised_ks": dg.MetadataValue.float(ks) if ks is not None else dg.MetadataValue.text("-"),
            "validation_auc": dg.MetadataValue.float(validation_auc) if validation_auc is not None else dg.MetadataValue.text("-"),
            "labelled": dg.MetadataValue.int(labelled),
        },
    )


MONITORING_CHECKS = [drift_warnings, fairness_warnings, unseen_level_warnings, performance_warnings]
