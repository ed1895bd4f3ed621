"""The model registry: a challenger replaces the champion only if it does not lose on the same rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from ml.dataset import split_out_of_time, training_rows
from ml.model_store import save_model
from ml.registry import CHAMPION, REJECTED, RETIRED, SUPERSEDED, champion_as_of, decide, register
from ml.training import TrainingConfig, train_model
from warehouse.database import connect

QUICK = TrainingConfig(n_trials=2, tuning_rows=8_000, max_rounds=300, early_stopping_rounds=30)
NOVEMBER, DECEMBER, JANUARY = date(2020, 11, 1), date(2020, 12, 1), date(2021, 1, 1)
EXTERNAL_SCORES = ["ext_source_1", "ext_source_2", "ext_source_3", "ext_source_mean"]


def test_the_rule_promotes_within_the_tolerance_and_keeps_the_champion_beyond_it():
    assert decide(0.750, 0.752, tolerance=0.005)[0] is True
    assert decide(0.760, 0.752, tolerance=0.005)[0] is True
    promote, reason = decide(0.740, 0.752, tolerance=0.005)
    assert promote is False and "the champion keeps scoring" in reason and "0.0120 below" in reason


@pytest.fixture
def registry_warehouse(built_warehouse, tmp_path):
    """A copy of the built warehouse, so registry rows written here stay here."""
    import shutil

    from warehouse.paths import DataPaths

    paths = DataPaths(tmp_path / "data").create()
    shutil.copy(built_warehouse.warehouse, paths.warehouse)
    return paths


def trained_for(paths, month: date, blind: bool = False):
    """A model of `month`; a blind one never sees the external scores (a broken feature pipeline)."""
    with connect(paths.warehouse, read_only=True) as connection:
        frame = training_rows(connection, month)
    shown = frame.assign(**{column: np.nan for column in EXTERNAL_SCORES}) if blind else frame
    card = save_model(train_model(shown, QUICK), month, f"rows-{month}-{blind}", QUICK, paths.models)
    return card, split_out_of_time(frame)[1]


def statuses(paths) -> list[tuple]:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(
            "select version, status from marts.model_registry order by registered_at"
        ).fetchall()


def test_a_worse_challenger_is_rejected_and_the_champion_keeps_scoring(registry_warehouse):
    paths = registry_warehouse
    champion, champion_validation = trained_for(paths, NOVEMBER)
    blind, blind_validation = trained_for(paths, DECEMBER, blind=True)
    with connect(paths.warehouse) as connection:
        first = register(connection, champion, champion_validation, paths.models, tolerance=0.005)
        second = register(connection, blind, blind_validation, paths.models, tolerance=0.005)
        again = register(connection, blind, blind_validation, paths.models, tolerance=0.005)
        scoring_december = champion_as_of(connection, DECEMBER)
        row = connection.execute(
            "select champion_version, validation_auc, champion_validation_auc, validation_month"
            " from marts.model_registry where version = ?", [blind.version]
        ).fetchone()
    assert first["status"] == CHAMPION and "first model" in first["decision_reason"]
    assert second["status"] == REJECTED and "champion keeps scoring" in second["decision_reason"]
    assert again == second, "registering the same version twice records one decision"
    assert scoring_december == (champion.version, NOVEMBER)
    assert row[0] == champion.version and row[1] < row[2] - 0.005
    assert row[3] == NOVEMBER, "compared on the challenger's validation month"
    assert statuses(paths) == [(champion.version, CHAMPION), (blind.version, REJECTED)]


def test_a_better_challenger_is_promoted_and_a_retrained_month_supersedes_its_old_model(registry_warehouse):
    paths = registry_warehouse
    champion, champion_validation = trained_for(paths, NOVEMBER, blind=True)
    blind, blind_validation = trained_for(paths, DECEMBER, blind=True)
    with connect(paths.warehouse) as connection:
        register(connection, champion, champion_validation, paths.models, tolerance=0.005)
        register(connection, blind, blind_validation, paths.models, tolerance=1.0)
    full, full_validation = trained_for(paths, DECEMBER)
    with connect(paths.warehouse) as connection:
        decision = register(connection, full, full_validation, paths.models, tolerance=0.005)
        scoring_january = champion_as_of(connection, JANUARY)
        scoring_november = champion_as_of(connection, NOVEMBER)
    assert decision["status"] == CHAMPION
    assert scoring_january == (full.version, DECEMBER)
    assert scoring_november == (champion.version, NOVEMBER), "an earlier month keeps the model it had"
    assert statuses(paths) == [(champion.version, RETIRED), (blind.version, SUPERSEDED), (full.version, CHAMPION)]
