"""`credit report YYYY-MM`: one self-contained HTML page of a month: scores, drift, fairness, performance, model.

Read from the warehouse (read-only) and the model folder; written whole, then renamed, to
`reports/YYYY-MM.html` in the data directory. Charts are PNGs inside the page, so the
file can be mailed or attached to a ticket as it is.
"""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from matplotlib.figure import Figure

from ml.reports.model_report import PLOTS, png_base64
from ml.model_store import read_card, report_dir
from warehouse.monitoring_thresholds import APPROVAL_RATIO_WARNING, PSI_WARNING
from warehouse.status_queries import describe_fairness_flag, describe_unseen_level, has_table, unseen_levels

TOP_DRIFT = 15
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; } td, th { padding: 0.2em 0.8em; text-align: right; }
th { border-bottom: 1px solid #999; } .warn { color: #b00020; font-weight: 600; } img { max-width: 32em; }
"""


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda value: f"{value:.4f}", na_rep="-")


def _query(connection: duckdb.DuckDBPyConnection, sql: str, month: date) -> pd.DataFrame:
    return connection.execute(sql, [month]).df()


def _scores_section(connection: duckdb.DuckDBPyConnection, month: date) -> tuple[str, str | None]:
    scores = _query(connection, "select default_probability, risk_grade, decision, model_version from scoring.predictions where application_month = ?", month)
    if scores.empty:
        raise ValueError(f"{month:%Y-%m} has no scores: run it first (`credit run {month:%Y-%m}`)")
    figure = Figure(figsize=(6, 3.2))
    axes = figure.subplots()
    for decision, rows in scores.groupby("decision"):
        axes.hist(rows["default_probability"], bins=40, range=(0, scores["default_probability"].max()), alpha=0.6, label=decision)
    axes.set_xlabel("default probability")
    axes.set_ylabel("applications")
    axes.legend()
    decisions = scores["decision"].value_counts(normalize=True).rename_axis("decision").reset_index(name="share")
    body = (
        f"<p>{len(scores):,} applications scored by <code>{html.escape(scores['model_version'].iloc[0])}</code>; "
        f"mean probability {scores['default_probability'].mean():.4f}.</p>{_png(figure)}{_table(decisions)}"
    )
    if has_table(connection, "monitoring", "performance_by_grade"):
        grades = _query(connection, "select risk_grade, applications, mean_probability, labelled, default_rate from monitoring.performance_by_grade where application_month = ? order by risk_grade", month)
        body += "<h3>By risk grade</h3>" + _table(grades)
    return body, scores["model_version"].iloc[0]


def _drift_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    if not has_table(connection, "monitoring", "drift"):
        return "<p>No drift figures yet.</p>"
    drift = _query(connection, "select subject, subject_kind, psi from monitoring.drift where application_month = ? order by psi desc", month)
    if drift.empty:
        return "<p>No drift figures for this month.</p>"
    top = drift.head(TOP_DRIFT).iloc[::-1]
    figure = Figure(figsize=(6, 0.28 * len(top) + 1))
    axes = figure.subplots()
    axes.barh(top["subject"], top["psi"], color=["#b00020" if psi > PSI_WARNING else "#4a7ab7" for psi in top["psi"]])
    axes.axvline(PSI_WARNING, color="#b00020", linestyle="--", linewidth=1)
    axes.set_xlabel(f"PSI against the training window (warning above {PSI_WARNING})")
    warned = drift[drift["psi"] > PSI_WARNING]
    summary = (
        f'<p class="warn">{len(warned)} above {PSI_WARNING}: {html.escape(", ".join(warned["subject"]))}</p>'
        if len(warned) else f"<p>No PSI above {PSI_WARNING} among {len(drift)} features and the score.</p>"
    )
    return summary + _png(figure) + _table(drift.head(TOP_DRIFT))


def _monitoring_table(connection: duckdb.DuckDBPyConnection, table: str, columns: str, month: date) -> str:
    if not has_table(connection, "monitoring", table):
        return "<p>Not computed yet.</p>"
    return _table(_query(connection, f"select {columns} from monitoring.{table} where application_month = ?", month))


def _fairness_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    if not has_table(connection, "monitoring", "fairness"):
        return "<p>Not computed yet.</p>"
    table = _query(
        connection,
        "select group_column, group_value, applications, judged, reference_group, mean_probability, approval_rate,"
        " approval_rate_ratio, labelled, default_rate, auc from monitoring.fairness where application_month = ?"
        " order by group_column, group_value",
        month,
    )
    flagged = table[table["judged"] & (table["approval_rate_ratio"] < APPROVAL_RATIO_WARNING)]
    summary = (
        f'<p class="warn">Approval-rate ratio below {APPROVAL_RATIO_WARNING}: '
        + html.escape(", ".join(
            describe_fairness_flag(r.group_column, r.group_value, r.approval_rate_ratio, r.reference_group) for r in flagged.itertuples()
        ))
        + "</p>"
        if len(flagged) else f"<p>Every group large enough to judge is approved at least {APPROVAL_RATIO_WARNING} as often as the most approved one.</p>"
    )
    note = "<p>Protected attributes the model never sees, and age bands; a group too small to judge is shown but never the reference.</p>"
    return summary + note + _table(table)


def _unseen_section(connection: duckdb.DuckDBPyConnection, month: date) -> str:
    rows = unseen_levels(connection, month)
    if not rows:
        return "<p>None: every categorical value of the month was seen before.</p>"
    items = "".join(f"<li>{html.escape(describe_unseen_level(*row))}</li>" for row in rows)
    return f'<p class="warn">Scored through each column\'s "value never seen before" feature:</p><ul>{items}</ul>'


def _model_section(models_root: Path, version: str) -> str:
    card = read_card(models_root, version)
    if card is None:
        return f"<p>The card of {html.escape(version)} is not in {html.escape(str(models_root))}.</p>"
    metrics = pd.DataFrame(
        [(name, card.metrics[name]) for name in ("validation_auc", "validation_ks", "validation_brier", "calibration_intercept", "calibration_slope", "train_rows", "refit_rounds") if name in card.metrics],
        columns=["figure", "value"],
    )
    plots = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{png_base64(path)}">'
        for name in PLOTS[:3]
        if (path := report_dir(models_root, version) / f"{name}.png").exists()
    )
    excluded = html.escape(", ".join(card.protected_attributes or []) or "none")
    return (
        f"<p>Trained for {card.month} on {card.metrics.get('train_rows', 0):,} rows; never shown the protected attributes {excluded}.</p>"
        + _table(metrics) + plots
    )


def write_month_report(connection: duckdb.DuckDBPyConnection, month: date, models_root: Path, out_dir: Path) -> Path:
    scores, version = _scores_section(connection, month)
    sections = [
        ("Scores", scores),
        ("Drift", _drift_section(connection, month)),
        ("Values never seen before", _unseen_section(connection, month)),
        ("Fairness", _fairness_section(connection, month)),
        ("Realised performance", _monitoring_table(connection, "performance", "model_version, applications, labelled, default_rate, auc, ks, validation_auc", month)),
        ("Model", _model_section(models_root, version)),
    ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Credit scoring {month:%Y-%m}</title>"
        f"<style>{STYLE}</style></head><body><h1>Credit scoring, {month:%Y-%m}</h1>"
        + "".join(f"<h2>{title}</h2>{body}" for title, body in sections)
        + "</body></html>"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{month:%Y-%m}.html"
    temporary = final.with_name(f".{final.name}.partial")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, final)
    return final
