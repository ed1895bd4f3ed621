"""Tune a LightGBM classifier with Optuna and train it, out-of-time validated and seeded.

Reproducible by construction: a seeded TPE sampler, a seeded tuning sample, and
LightGBM's `deterministic`, `force_row_wise`, fixed `seed` and fixed `num_threads`, so the
same training set and config give the same model, byte for byte.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Callable

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from ml.dataset import LABEL_COLUMN, feature_columns, split_out_of_time
from ml.evaluation import auc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """What a data scientist may change; it is part of the model card and of the reuse key."""

    n_trials: int = 8
    tuning_rows: int = 50_000
    max_rounds: int = 1_000
    early_stopping_rounds: int = 100
    seed: int = 42
    num_threads: int = 2

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainedModel:
    booster: lgb.Booster
    feature_names: list[str]
    params: dict
    metrics: dict = field(default_factory=dict)


def _fixed_params(config: TrainingConfig) -> dict:
    return {
        "objective": "binary",
        "metric": "auc",
        "verbosity": -1,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.num_threads,
        "bagging_freq": 1,
    }


def _suggest(trial: optuna.Trial) -> dict:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 96, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 500, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 0.9),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.6, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    return frame[features].to_numpy(dtype=np.float32, na_value=np.nan)


def _fit(params: dict, train: lgb.Dataset, valid: lgb.Dataset, config: TrainingConfig) -> lgb.Booster:
    # Callbacks are made per fit: an early-stopping callback keeps state and must not be shared.
    return lgb.train(
        params,
        train,
        num_boost_round=config.max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )


def tune(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    config: TrainingConfig,
    progress: Callable[[str], None] = log.info,
) -> dict:
    """Best hyper-parameters by validation AUC, searched on a seeded sample of the training rows."""
    sample = train
    if len(train) > config.tuning_rows:
        sample = train.sample(n=config.tuning_rows, random_state=config.seed)
    # One binned dataset serves every trial; trials vary min_child_samples, so LightGBM must
    # not drop features at binning time by the first trial's value (feature_pre_filter).
    train_set = lgb.Dataset(feature_matrix(sample, features), sample[LABEL_COLUMN].to_numpy(), free_raw_data=False)
    valid_set = lgb.Dataset(feature_matrix(valid, features), valid[LABEL_COLUMN].to_numpy(), reference=train_set)

    def objective(trial: optuna.Trial) -> float:
        params = {**_fixed_params(config), **_suggest(trial), "feature_pre_filter": False}
        booster = _fit(params, train_set, valid_set, config)
        trial.set_user_attr("rounds", booster.best_iteration)
        return float(booster.best_score["valid_0"]["auc"])

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        progress(
            f"tuning trial {trial.number + 1}/{config.n_trials}: AUC {trial.value:.4f} "
            f"(best {study.best_value:.4f})"
        )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.optimize(objective, n_trials=config.n_trials, callbacks=[report])
    return dict(study.best_params)


def train_model(
    training_set: pd.DataFrame,
    config: TrainingConfig = TrainingConfig(),
    progress: Callable[[str], None] = log.info,
) -> TrainedModel:
    """Tune, then train on all training rows but the validation slice, stopping early on it."""
    features = feature_columns(training_set)
    train, valid = split_out_of_time(training_set)
    if train[LABEL_COLUMN].nunique() < 2 or valid[LABEL_COLUMN].nunique() < 2:
        raise ValueError("the training and validation rows must each hold both outcomes")
    tuned = tune(train, valid, features, config, progress)
    params = {**_fixed_params(config), **tuned}
    progress(f"training on {len(train):,} rows with the best parameters")
    train_set = lgb.Dataset(feature_matrix(train, features), train[LABEL_COLUMN].to_numpy(), feature_name=features)
    valid_set = lgb.Dataset(feature_matrix(valid, features), valid[LABEL_COLUMN].to_numpy(), reference=train_set)
    booster = _fit(params, train_set, valid_set, config)
    validation_auc = auc(valid[LABEL_COLUMN], predict(booster, valid, features))
    metrics = {
        "validation_auc": round(validation_auc, 6),
        "best_iteration": int(booster.best_iteration),
        "train_rows": int(len(train)),
        "validation_rows": int(len(valid)),
        "train_default_rate": round(float(train[LABEL_COLUMN].mean()), 6),
        "validation_default_rate": round(float(valid[LABEL_COLUMN].mean()), 6),
    }
    return TrainedModel(booster=booster, feature_names=features, params=params, metrics=metrics)


def predict(booster: lgb.Booster, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"rows lack {len(missing)} model features, e.g. {missing[:5]}")
    return booster.predict(feature_matrix(frame, features), num_iteration=booster.best_iteration or None)
