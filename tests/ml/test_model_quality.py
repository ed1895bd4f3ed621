"""Model quality: the ceiling, out-of-time validation and refit, tuning, calibration, evaluation report."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import pytest

from ml.backtest import true_probabilities
from ml.calibration import calibration_intercept, calibration_slope, check_calibration, spiegelhalter_z
from ml.dataset import training_rows
from ml.evaluation import auc, decile_table, ks
from ml.model_store import PLOTS
from ml.reports.model_report import write_report
from ml.training import SEARCH_SPACE, TrainingConfig, _pruning_callback, train_model, warm_start_params
from ml.windows import CHOICE, FIGURE, figures_untouched_by_choices, plan_windows
from warehouse.database import connect
from warehouse.sample_data.splitter import true_scores_dir

QUICK = TrainingConfig(n_trials=3, tuning_rows=8_000, max_rounds=300, early_stopping_rounds=30)


@pytest.fixture(scope="module")
def january_rows(built_warehouse) -> pd.DataFrame:
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        return training_rows(connection, date(2021, 1, 1))


@pytest.fixture(scope="module")
def january_model(january_rows):
    return train_model(january_rows, QUICK)


def test_figures_come_from_the_latest_month_which_no_fit_and_no_choice_saw(january_rows, january_model):
    metrics, windows = january_model.metrics, {w.name: w for w in january_model.windows}
    plan = plan_windows(january_rows)
    assert windows["validation"].months == ("2020-12",) and windows["tuning"].months == ("2020-11",)
    assert metrics["validation_rows"] == plan.validation.sum() == windows["validation"].rows
    assert (
        metrics["validation_fit_rows"] == plan.before_validation.sum()
        and metrics["tuning_fit_rows"] == plan.before_tuning.sum()
    )
    assert set(january_model.validation["sk_id_curr"]) == set(january_rows.loc[plan.validation, "sk_id_curr"])
    # Every window a figure comes from is disjoint from every window a choice was made on, and
    # from the rows the model that produced the figure was fitted on.
    figures = [w for w in january_model.windows if w.role == FIGURE]
    choices = [w for w in january_model.windows if w.role == CHOICE]
    assert figures and choices and figures_untouched_by_choices(january_model.windows)
    assert not any(f.overlaps(c) for f in figures for c in choices + [windows["validation_fit"]])
    # The stored model is the refit: every row before M, for the early-stopped rounds grown with the data.
    assert windows["deployed_fit"].rows == len(january_rows)
    assert (
        january_model.booster.num_trees()
        == metrics["refit_rounds"]
        >= metrics["validation_fit_rounds"]
        >= metrics["best_iteration"]
    )
    assert january_model.booster.best_iteration == 0
    # The reported calibration is the deployed procedure's, on the validation window.
    validation = january_model.validation
    assert metrics["calibration_slope"] == pytest.approx(
        calibration_slope(validation["target"], validation["probability"]), abs=1e-6
    )
    assert metrics["calibration_intercept"] == pytest.approx(
        calibration_intercept(validation["target"], validation["probability"]), abs=1e-6
    )


def test_validation_auc_is_close_to_the_ceiling_on_the_same_rows(deliveries_dir, january_model):
    """A broken feature pipeline (a lost column, shuffled rows, a leak-free but empty signal) fails this floor."""
    truth = true_probabilities(true_scores_dir(deliveries_dir), date(2020, 12, 1))
    joined = january_model.validation.merge(truth, on="sk_id_curr", validate="one_to_one")
    assert len(joined) == len(january_model.validation)
    ceiling = auc(joined["target"], joined["fair_probability"].to_numpy())
    model_auc = january_model.metrics["validation_auc"]
    assert 0.70 < ceiling < 0.82, "the generator's ceiling is in the range of real application-only models"
    assert model_auc >= 0.93 * ceiling, (model_auc, ceiling)


def test_true_probabilities_are_calibrated_and_beat_the_model(small_generated, deliveries_dir, january_model):
    frame, probability = small_generated.frame, small_generated.true_probability
    assert abs(spiegelhalter_z(frame["TARGET"].to_numpy(), probability)) < 3
    assert probability.mean() == pytest.approx(frame["TARGET"].mean(), abs=0.005)
    truth = true_probabilities(true_scores_dir(deliveries_dir), date(2020, 12, 1))
    joined = january_model.validation.merge(truth, on="sk_id_curr")
    assert auc(joined["target"], joined["true_probability"].to_numpy()) > january_model.metrics["validation_auc"] - 0.01


def test_calibration_check_leaves_calibrated_scores_and_corrects_biased_ones():
    rng = np.random.default_rng(3)
    probabilities = rng.beta(1.2, 12, 20_000)
    labels = (rng.random(20_000) < probabilities).astype(int)
    calibrated = check_calibration(labels, probabilities)
    assert calibrated.calibrated and abs(calibrated.z) < 1.96
    assert calibration_slope(labels, probabilities) == pytest.approx(1.0, abs=0.1)
    assert calibration_intercept(labels, probabilities) == pytest.approx(0.0, abs=0.05)
    assert calibration_intercept(labels, np.clip(probabilities * 2, 0, 0.99)) < -0.5, (
        "scores too high need a negative shift"
    )
    doubled = np.clip(probabilities * 2, 0, 0.99)
    biased = check_calibration(labels, doubled)
    assert not biased.calibrated and biased.z < -1.96
    corrected = biased.correction.apply(doubled)
    assert corrected.mean() == pytest.approx(labels.mean(), abs=0.003)
    assert np.mean((corrected - labels) ** 2) < np.mean((doubled - labels) ** 2)
    assert auc(labels, corrected) == pytest.approx(auc(labels, doubled)), "the correction keeps the ranking"


def test_a_trial_optuna_prunes_stops_training():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2_000, 5))
    labels = (features[:, 0] + rng.normal(size=2_000) > 1).astype(int)
    train = lgb.Dataset(features[:1_500], labels[:1_500], params={"verbosity": -1})
    valid = lgb.Dataset(features[1_500:], labels[1_500:], reference=train, params={"verbosity": -1})
    rounds = []

    def objective(trial: optuna.Trial) -> float:
        booster = lgb.train(
            {"objective": "binary", "metric": "auc", "verbosity": -1, "num_threads": 1},
            train,
            num_boost_round=200,
            valid_sets=[valid],
            callbacks=[_pruning_callback(trial)],
        )
        rounds.append(booster.current_iteration())
        return 0.0

    # Any AUC is below 1.1, so the pruner stops the trial at its first report.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1.1))
    study.optimize(objective, n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED
    assert not rounds and list(study.trials[0].intermediate_values) == [10]


def test_warm_start_takes_last_months_values_clipped_into_the_search_space(january_rows):
    previous = {
        "learning_rate": 0.5,
        "num_leaves": 20,
        "min_child_samples": 5,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.8,
        "lambda_l2": 1.0,
        "objective": "binary",
    }
    start = warm_start_params(previous)
    assert set(start) == set(SEARCH_SPACE)
    assert (
        start["learning_rate"] == SEARCH_SPACE["learning_rate"][1]
        and start["min_child_samples"] == SEARCH_SPACE["min_child_samples"][0]
    )
    assert start["num_leaves"] == 20
    assert warm_start_params(None) is None and warm_start_params({"learning_rate": 0.1}) is None
    one_trial = replace(QUICK, n_trials=1)
    warm = train_model(january_rows, one_trial, warm_start=previous)
    # With one trial, the search's only trial is last month's parameters.
    assert warm.metrics["warm_started"] and {k: warm.params[k] for k in SEARCH_SPACE} == start


def test_evaluation_report_writes_every_plot_and_one_html_page(january_model, tmp_path):
    validation = january_model.validation
    report = write_report(
        tmp_path,
        "test model",
        validation["target"],
        validation["probability"],
        january_model.booster,
        {"rows": len(validation)},
    )
    assert set(report.plots) == set(PLOTS)
    for path in report.plots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    page = report.html.read_text()
    assert page.count("data:image/png;base64,") == len(PLOTS) and "Default rate by score decile" in page
    assert report.summary["ks"] == pytest.approx(ks(validation["target"], validation["probability"].to_numpy()))
    assert not list(tmp_path.glob("*.partial"))


def test_decile_table_ranks_riskiest_first_and_accounts_for_every_default():
    rng = np.random.default_rng(5)
    probabilities = rng.random(1_000)
    labels = (rng.random(1_000) < probabilities).astype(int)
    table = decile_table(labels, probabilities)
    assert list(table["decile"]) == list(range(1, 11)) and (table["rows"] == 100).all()
    assert table["defaults"].sum() == labels.sum() and table["captured"].iloc[-1] == pytest.approx(1.0)
    assert table["mean_probability"].is_monotonic_decreasing and table["lift"].iloc[0] > 1.5
