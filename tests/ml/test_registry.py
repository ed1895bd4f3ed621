"""The model registry: a challenger replaces the champion only on rows neither model was fitted or chose on."""

from __future__ import annotations

import json
import shutil
from datetime import date

import numpy as np
import pytest

from ml.champion import CHAMPION, PENDING, REJECTED, RETIRED, SUPERSEDED, champion_as_of
from ml.dataset import ID_COLUMN, training_rows
from ml.model_store import load_model, save_model
from ml.registry import card_windows, decide, register
from ml.training import TrainingConfig, train_model
from ml.windows import Window
from warehouse.database import connect
from warehouse.paths import DataPaths

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
    paths = DataPaths(tmp_path / "data").create()
    shutil.copy(built_warehouse.warehouse, paths.warehouse)
    return paths


@pytest.fixture(scope="module")
def trained_once(built_warehouse):
    """Each model these tests need, trained once for the module: the same rows and config give the same model.

    A blind one never sees the external scores (a broken feature pipeline); `without` drops a
    month's rows, as when that month's outcomes are not known yet.
    """
    models = {}

    def trained(month: date, blind: bool, without: date | None):
        if (month, blind, without) not in models:
            with connect(built_warehouse.warehouse, read_only=True) as connection:
                frame = training_rows(connection, month)
            if without:
                frame = frame[frame["application_month"] != np.datetime64(without)].reset_index(drop=True)
            shown = frame.assign(**{column: np.nan for column in EXTERNAL_SCORES}) if blind else frame
            models[month, blind, without] = train_model(shown, QUICK), shown
        return models[month, blind, without]

    return trained


@pytest.fixture
def trained_for(registry_warehouse, trained_once):
    """A model of `month`, stored in this test's model store, and what registering it needs."""

    def stored(month: date, blind: bool = False, without: date | None = None):
        trained, shown = trained_once(month, blind, without)
        card = save_model(trained, month, f"rows-{month}-{blind}-{without}", QUICK, registry_warehouse.models)
        validation_rows = shown.set_index(ID_COLUMN).loc[trained.validation[ID_COLUMN]].reset_index()
        return card, validation_rows, trained.validation["probability"].to_numpy(copy=True)  # cache untouched

    return stored


def register_model(paths, trained, tolerance=0.005) -> dict:
    card, rows, probabilities = trained
    with connect(paths.warehouse) as connection:
        return register(connection, card, rows, probabilities, paths.models, tolerance)


def registry(paths) -> list[tuple]:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(
            "select version, status, validation_month, champion_version, validation_auc, champion_validation_auc,"
            " swap_set, excluded_attributes from scoring.model_registry order by registered_at"
        ).fetchall()


def _compared_on_untouched_rows(paths, challenger_version: str, champion_version: str) -> bool:
    challenger = load_model(paths.models, challenger_version)[1]
    champion = load_model(paths.models, champion_version)[1]
    [validation] = [w for w in card_windows(challenger) if w.name == "validation"]
    choices = [w for w in card_windows(challenger) if w.role == "choice" or w.name == "validation_fit"]
    return not any(validation.overlaps(window) for window in card_windows(champion) + choices)


@pytest.mark.slow  # trains models
def test_a_worse_challenger_is_rejected_on_rows_neither_saw_with_its_swap_set(registry_warehouse, trained_for):
    paths = registry_warehouse
    champion = trained_for(NOVEMBER)
    blind = trained_for(DECEMBER, blind=True)
    first = register_model(paths, champion)
    second = register_model(paths, blind)
    with connect(paths.warehouse) as connection:
        again = register(connection, blind[0], blind[1], blind[2], paths.models, 0.005)
        scoring_december = champion_as_of(connection, DECEMBER)
    assert first["status"] == CHAMPION and "first model" in first["decision_reason"]
    assert second["status"] == REJECTED and "champion keeps scoring" in second["decision_reason"]
    assert again["status"] == REJECTED and again["version"] == second["version"], "one decision per version"
    assert scoring_december[:2] == (champion[0].version, NOVEMBER)
    [_, row] = registry(paths)
    assert row[2] == NOVEMBER, "compared on the challenger's validation month"
    assert row[3] == champion[0].version and row[4] < row[5] - 0.005
    assert row[7] == "CODE_GENDER,NAME_FAMILY_STATUS"
    assert _compared_on_untouched_rows(paths, blind[0].version, champion[0].version)
    swap = json.loads(row[6])
    assert swap["rows"] == len(blind[1]) and swap["changed"] == sum(swap["transitions"].values()) > 0
    assert {"applications", "default_rate"} == set(swap["swap_in"]) == set(swap["swap_out"])
    assert "swap set:" in second["decision_reason"]


@pytest.mark.slow  # trains models
def test_a_better_challenger_is_promoted_and_a_retrained_month_supersedes_its_old_model(
    registry_warehouse, trained_for
):
    paths = registry_warehouse
    champion = trained_for(NOVEMBER, blind=True)
    blind = trained_for(DECEMBER, blind=True)
    register_model(paths, champion)
    register_model(paths, blind, tolerance=1.0)
    full = trained_for(DECEMBER)
    decision = register_model(paths, full)
    with connect(paths.warehouse) as connection:
        scoring_january = champion_as_of(connection, JANUARY)
        scoring_november = champion_as_of(connection, NOVEMBER)
        scoring_today = champion_as_of(connection)
    assert decision["status"] == CHAMPION
    assert scoring_january[:2] == (full[0].version, DECEMBER)
    assert scoring_today == scoring_january, "no month: today's champion"
    assert scoring_november[:2] == (champion[0].version, NOVEMBER), "an earlier month keeps the model it had"
    assert [(row[0], row[1]) for row in registry(paths)] == [
        (champion[0].version, RETIRED),
        (blind[0].version, SUPERSEDED),
        (full[0].version, CHAMPION),
    ]
    assert _compared_on_untouched_rows(paths, full[0].version, champion[0].version)
    # Every version stays loadable: the superseded one too.
    assert load_model(paths.models, blind[0].version)[1].version == blind[0].version


@pytest.mark.slow  # trains models
def test_with_no_rows_both_models_left_untouched_the_challenger_is_pending(registry_warehouse, trained_for):
    """December's outcomes unknown at January: it validates on November, which December's champion was fitted on."""
    paths = registry_warehouse
    register_model(paths, trained_for(NOVEMBER))
    december = trained_for(DECEMBER)
    assert register_model(paths, december)["status"] == CHAMPION
    january = trained_for(JANUARY, without=DECEMBER)
    decision = register_model(paths, january)
    assert decision["status"] == PENDING
    assert "no labelled rows that neither model was fitted or chose on" in decision["decision_reason"]
    assert december[0].version in decision["decision_reason"] and "keeps scoring" in decision["decision_reason"]
    with connect(paths.warehouse, read_only=True) as connection:
        assert champion_as_of(connection, JANUARY)[:2] == (december[0].version, DECEMBER)
    assert not _compared_on_untouched_rows(paths, january[0].version, december[0].version)
    [validation] = [w for w in card_windows(january[0]) if w.name == "validation"]
    assert validation.months == ("2020-11",) and isinstance(validation, Window)
