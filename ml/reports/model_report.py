"""A model's evaluation on its validation window, as PNG plots and one self-contained HTML page.

Plots: ROC (with the KS point), precision-recall, calibration by score decile, default rate
and lift by decile, and the gain importance of the top features. matplotlib's `Figure` draws
them straight to files, without pyplot's global state or a display.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ml import evaluation
from ml.model_store import REPORT_FILE
from ml.reports.html_page import document, frame_table, image, key_values, section
from warehouse.atomic_files import atomic_write, atomic_write_text

TOP_FEATURES = 20


@dataclass(frozen=True)
class EvaluationReport:
    folder: Path
    plots: dict[str, Path]
    html: Path
    summary: dict
    deciles: pd.DataFrame


def _figure(width: float = 5, height: float = 4) -> tuple[Figure, object]:
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _save(figure: Figure, path: Path) -> Path:
    with atomic_write(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90, bbox_inches="tight")
    return path


def _roc(curves: dict, summary: dict) -> Figure:
    false_positive_rate, true_positive_rate = curves["roc"]
    gap = true_positive_rate - false_positive_rate
    at = int(np.argmax(gap))
    figure, axes = _figure()
    axes.plot(false_positive_rate, true_positive_rate, label=f"model (AUC {summary['auc']:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="no skill")
    axes.vlines(
        false_positive_rate[at],
        false_positive_rate[at],
        true_positive_rate[at],
        color="C3",
        label=f"KS {summary['ks']:.3f}",
    )
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, validation month")
    axes.legend(loc="lower right")
    return figure


def _precision_recall(curves: dict, labels: np.ndarray) -> Figure:
    recall, precision = curves["precision_recall"]
    figure, axes = _figure()
    axes.plot(recall, precision)
    axes.axhline(labels.mean(), color="grey", linestyle=":", label=f"default rate {labels.mean():.1%}")
    axes.set(
        xlabel="recall (defaults caught)", ylabel="precision", title="Precision-recall, validation month", ylim=(0, 1)
    )
    axes.legend(loc="upper right")
    return figure


def _calibration(deciles: pd.DataFrame) -> Figure:
    table = deciles.sort_values("mean_probability")
    top = float(max(table["mean_probability"].max(), table["default_rate"].max()) * 1.1)
    figure, axes = _figure()
    axes.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect calibration")
    axes.plot(table["mean_probability"], table["default_rate"], marker="o", label="score deciles")
    axes.set(xlabel="mean predicted probability", ylabel="observed default rate", title="Calibration, validation month")
    axes.legend(loc="upper left")
    return figure


def _deciles(table: pd.DataFrame) -> Figure:
    figure, axes = _figure()
    axes.bar(table["decile"], table["default_rate"], color="C0")
    axes.set(
        xlabel="score decile (1 = riskiest)",
        ylabel="default rate",
        title="Default rate and lift by decile",
        xticks=table["decile"],
    )
    lift = axes.twinx()
    lift.plot(table["decile"], table["lift"], color="C3", marker="o")
    lift.set_ylabel("lift", color="C3")
    return figure


def _importance(booster: lgb.Booster, labels_of: dict[str, str]) -> Figure:
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).sort_values().tail(TOP_FEATURES)
    figure, axes = _figure(6, 5.5)
    axes.barh([labels_of.get(name, name) for name in gain.index], gain.to_numpy() / gain.sum())
    axes.set(xlabel="share of total gain (top features)", title=f"Gain importance, top {len(gain)}")
    axes.tick_params(axis="y", labelsize=7)
    return figure


def write_report(
    folder: Path,
    title: str,
    labels: np.ndarray,
    probabilities: np.ndarray,
    booster: lgb.Booster,
    facts: dict,
    readable_names: dict[str, str] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
) -> EvaluationReport:
    """Write the PNGs and `report.html` into `folder`; each file appears whole or not at all.

    `tables` are shown under their titles after the figures (the windows, the swap set).
    """
    folder.mkdir(parents=True, exist_ok=True)
    labels, probabilities = np.asarray(labels), np.asarray(probabilities)
    summary = evaluation.summary(labels, probabilities)
    deciles = evaluation.decile_table(labels, probabilities)
    curves = evaluation.curves(labels, probabilities)
    figures = {
        "roc": _roc(curves, summary),
        "precision_recall": _precision_recall(curves, labels),
        "calibration": _calibration(deciles),
        "deciles": _deciles(deciles),
        "importance": _importance(booster, readable_names or {}),
    }
    plots = {name: _save(figure, folder / f"{name}.png") for name, figure in figures.items()}
    page = folder / REPORT_FILE
    atomic_write_text(page, _html(title, summary, facts, deciles, plots, tables or {}))
    return EvaluationReport(folder=folder, plots=plots, html=page, summary=summary, deciles=deciles)


def _html(
    title: str,
    summary: dict,
    facts: dict,
    deciles: pd.DataFrame,
    plots: dict[str, Path],
    tables: dict[str, pd.DataFrame],
) -> str:
    return document(
        title,
        section("Validation window", key_values({**summary, **facts})),
        *(section(name, frame_table(table)) for name, table in tables.items()),
        section("Default rate by score decile", frame_table(deciles)),
        section("Plots", *(image(path, name) for name, path in plots.items())),
    )
