"""`credit report YYYY-MM`: one self-contained HTML page of a month: scores, drift, fairness, performance, model.

Read from the warehouse (read-only) and the model folder; written whole, then renamed, to
`reports/YYYY-MM.html` in the data directory. Charts are PNGs inside the page, so the
file can be mailed or attached to a ticket as it is.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from matplotlib.figure import Figure

from ml.model_store import PLOTS, read_card, report_dir
from ml.reports.html_page import bullets, document, frame_table, image, key_values, paragraph, section
from warehouse.atomic_files import atomic_write_text
from warehouse.database import has_table
from warehouse.dbt_vars import DRIFT_PSI_WARNING_VAR, FAIRNESS_APPROVAL_RATIO_WARNING_VAR, dbt_var
from warehouse.monitoring_warnings import (
    MonitoringWarning,
    WarningKind,
    WarningsNotComputed,
    month_warnings,
    not_computed_message,
)

TOP_DRIFT = 15


def _query(connection: duckdb.DuckDBPyConnection, sql: str, month: date) -> pd.DataFrame:
    return connection.execute(sql, [month]).df()


def _scores_section(connection: duckdb.DuckDBPyConnection, month: date) -> tuple[str, str | None]:
    scores = _query(
        connection,
        "select default_probability, risk_grade, decision, model_version"
        " from scoring.predictions where application_month = ?",
        month,
    )
    if scores.empty:
        raise ValueError(f"{month:%Y-%m} has no scores: run it first (`credit run {month:%Y-%m}`)")
    figure = Figure(figsize=(6, 3.2))
    axes = figure.subplots()
    for decision, rows in scores.groupby("decision"):
        axes.hist(
            rows["default_probability"],
            bins=40,
            range=(0, scores["default_probability"].max()),
            alpha=0.6,
            label=decision,
        )
    axes.set_xlabel("default probability")
    axes.set_ylabel("applications")
    axes.legend(loc="upper right")  # "best" searches every bar of a large month: seconds
    decisions = scores["decision"].value_counts(normalize=True).rename_axis("decision").reset_index(name="share")
    body = (
        paragraph(
            f"{len(scores):,} applications scored by {scores['model_version'].iloc[0]}; "
            f"mean probability {scores['default_probability'].mean():.4f}."
        )
        + image(figure, "default probability by decision")
        + frame_table(decisions)
    )
    if has_table(connection, "monitoring", "performance_by_grade"):
        grades = _query(
            connection,
            "select risk_grade, applications, mean_probability, labelled, default_rate"
            " from monitoring.performance_by_grade where application_month = ? order by risk_grade",
            month,
        )
        body += section("By risk grade", frame_table(grades), level=3)
    return body, scores["model_version"].iloc[0]


def _warnings(connection: duckdb.DuckDBPyConnection, month: date, kind: WarningKind) -> list[MonitoringWarning] | None:
    """The month's warnings of the kind; None when they were not computed (the section says so instead)."""
    try:
        return month_warnings(connection, month, kind)
    except WarningsNotComputed:
        return None


def _not_computed(month: date) -> str:
    sentence = not_computed_message(month)
    return paragraph(f"{sentence[0].upper()}{sentence[1:]}.", warning=True)


def _drift_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    if not has_table(connection, "monitoring", "drift"):
        return paragraph("No drift figures yet.")
    drift = _query(
        connection,
        "select subject, subject_kind, psi from monitoring.drift where application_month = ? order by psi desc",
        month,
    )
    if drift.empty:
        return paragraph("No drift figures for this month.")
    psi_line = dbt_var(DRIFT_PSI_WARNING_VAR)
    warned = _warnings(connection, month, WarningKind.DRIFT)
    warned_subjects = {warning.subject for warning in warned or []}
    top = drift.head(TOP_DRIFT).iloc[::-1]
    figure = Figure(figsize=(6, 0.28 * len(top) + 1))
    axes = figure.subplots()
    colours = ["#b00020" if subject in warned_subjects else "#4a7ab7" for subject in top["subject"]]
    axes.barh(top["subject"], top["psi"], color=colours)
    axes.axvline(psi_line, color="#b00020", linestyle="--", linewidth=1)
    axes.set_xlabel(f"PSI against the scoring model's development sample (warning above {psi_line})")
    if warned is None:
        summary = _not_computed(month)
    elif warned:
        summary = paragraph(
            f"{len(warned)} above {psi_line}: {', '.join(warning.message for warning in warned)}", warning=True
        )
    else:
        summary = paragraph(f"No PSI above {psi_line} among {len(drift)} features and the score.")
    return summary + image(figure, "PSI of the most drifted features") + frame_table(drift.head(TOP_DRIFT))


def _monitoring_table(connection: duckdb.DuckDBPyConnection, table: str, columns: str, month: date) -> str:
    if not has_table(connection, "monitoring", table):
        return paragraph("Not computed yet.")
    return frame_table(
        _query(connection, f"select {columns} from monitoring.{table} where application_month = ?", month)
    )


def _performance_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    dropped = _warnings(connection, month, WarningKind.PERFORMANCE)
    summary = (
        _not_computed(month)
        if dropped is None
        else "".join(paragraph(f"Realised AUC has dropped: {warning.message}", warning=True) for warning in dropped)
    )
    columns = "model_version, applications, labelled, default_rate, auc, ks, validation_auc"
    return summary + _monitoring_table(connection, "performance", columns, month)


def _fairness_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    if not has_table(connection, "monitoring", "fairness"):
        return paragraph("Not computed yet.")
    table = _query(
        connection,
        "select group_column, group_value, applications, judged, reference_group, mean_probability, approval_rate,"
        " approval_rate_ratio, labelled, default_rate, auc from monitoring.fairness where application_month = ?"
        " order by group_column, group_value",
        month,
    )
    ratio_line = dbt_var(FAIRNESS_APPROVAL_RATIO_WARNING_VAR)
    flagged = _warnings(connection, month, WarningKind.FAIRNESS)
    if flagged is None:
        summary = _not_computed(month)
    elif flagged:
        summary = paragraph(
            f"Approval-rate ratio below {ratio_line}: " + ", ".join(warning.message for warning in flagged),
            warning=True,
        )
    else:
        summary = paragraph(
            f"Every group large enough to judge is approved at least {ratio_line} as often as the most approved one."
        )
    note = paragraph(
        "Protected attributes the model never sees, and age bands; "
        "a group too small to judge is shown but never the reference."
    )
    return summary + note + frame_table(table)


def _unseen_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    new_values = _warnings(connection, month, WarningKind.NEW_VALUE)
    if new_values is None:
        return _not_computed(month)
    if not new_values:
        return paragraph("None: every categorical value of the month was seen before.")
    return paragraph('Scored through each column\'s "value never seen before" feature:', warning=True) + bullets(
        warning.message for warning in new_values
    )


def _model_section(models_root: Path, version: str) -> str:
    card = read_card(models_root, version)
    if card is None:
        return paragraph(f"The card of {version} is not in {models_root}.")
    figures = (
        "validation_auc",
        "validation_ks",
        "validation_brier",
        "calibration_intercept",
        "calibration_slope",
        "train_rows",
        "refit_rounds",
    )
    plots = "".join(
        image(path, name) for name in PLOTS[:3] if (path := report_dir(models_root, version) / f"{name}.png").exists()
    )
    excluded = ", ".join(card.protected_attributes or []) or "none"
    return (
        paragraph(
            f"Trained for {card.month} on {card.metrics.get('train_rows', 0):,} rows; "
            f"never shown the protected attributes {excluded}."
        )
        + key_values({name: card.metrics[name] for name in figures if name in card.metrics})
        + plots
    )


def write_month_report(connection: duckdb.DuckDBPyConnection, month: date, models_root: Path, out_dir: Path) -> Path:
    scores, version = _scores_section(connection, month)
    sections = [
        ("Scores", scores),
        ("Drift", _drift_section(connection, month)),
        ("Values never seen before", _unseen_section(connection, month)),
        ("Fairness", _fairness_section(connection, month)),
        ("Realised performance", _performance_section(connection, month)),
        ("Model", _model_section(models_root, version)),
    ]
    page = document(f"Credit scoring, {month:%Y-%m}", *(section(title, body) for title, body in sections))
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{month:%Y-%m}.html"
    return atomic_write_text(final, page)
