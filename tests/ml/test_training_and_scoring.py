"""Point in time, reproducible training, the model store and the decision policy."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.dataset import applicant_values, fingerprint, read_training_set, scoring_rows, training_rows, write_training_set
from ml.explanations import NEVER_SEEN, NOT_ON_FILE, SENTINELS, explain, source_contributions
from ml.features import CATEGORICAL_COLUMNS, FeatureCatalog, default_catalog, excluded_features, source_column
from ml.model_store import ModelIntegrityError, load_model, month_cards, read_card, reusable_card, save_model
from ml.scoring import DecisionPolicy, score
from ml.training import TrainingConfig, predict, train_model
from ml.windows import figures_untouched_by_choices, plan_windows, training_windows
from warehouse.database import connect
from warehouse.fair_lending import require_policy
from warehouse.publishing.predictions_table import PREDICTION_COLUMNS
from warehouse.sample_data.splitter import delivery_months

QUICK = TrainingConfig(n_trials=2, tuning_rows=8_000, max_rounds=300, early_stopping_rounds=30)


@pytest.fixture(scope="module")
def history_only_training_set(built_warehouse) -> pd.DataFrame:
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        return training_rows(connection, date(2020, 10, 1))


@pytest.mark.parametrize("month", delivery_months())
def test_training_set_of_month_holds_nothing_from_that_month_or_later(built_warehouse, month):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = training_rows(connection, month)
        delivered_before = connection.execute(
            "select count(*) from raw.applications where target is not null"
            " and (application_month is null or application_month < ?)",
            [month],
        ).fetchone()[0]
        ids_of_month_or_later = {
            row[0]
            for row in connection.execute(
                "select sk_id_curr from raw.applications where application_month >= ?", [month]
            ).fetchall()
        }
    months = pd.to_datetime(rows["application_month"].dropna()).dt.date
    assert (months < month).all()
    assert not ids_of_month_or_later & set(rows["sk_id_curr"])
    assert len(rows) == delivered_before and rows["target"].notna().all()
    assert rows["is_history"].sum() > 0


def test_the_windows_run_in_time_order_and_figures_sit_on_rows_no_choice_saw(built_warehouse):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        january, october = training_rows(connection, date(2021, 1, 1)), training_rows(connection, date(2020, 10, 1))
    plan = plan_windows(january)
    months = pd.to_datetime(january["application_month"]).dt.date
    assert set(months[plan.validation]) == {date(2020, 12, 1)} and set(months[plan.tuning]) == {date(2020, 11, 1)}
    assert not (plan.before_validation & plan.validation).any() and (plan.before_validation >= plan.tuning).all()
    assert set(months[plan.before_tuning].dropna()) == {date(2020, 10, 1)}
    # Before any month: the latest tenth of the history validates, the tenth before it tunes.
    history = plan_windows(october)
    ids = october["sk_id_curr"]
    assert ids[history.validation].min() > ids[history.tuning].max() > ids[history.before_tuning].max()
    assert history.validation.sum() == pytest.approx(0.1 * len(october), abs=1)
    windows = training_windows(january, plan)
    assert [w.name for w in windows] == ["tuning_fit", "tuning", "validation_fit", "validation", "deployed_fit"]
    assert figures_untouched_by_choices(windows)
    tuning, validation = windows[1], windows[3]
    assert not validation.overlaps(tuning) and validation.overlaps(windows[4])


def test_training_set_snapshot_round_trips_with_its_fingerprint(built_warehouse, tmp_path):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        summary = write_training_set(connection, date(2020, 11, 1), tmp_path / "2020-11.parquet")
        rows = training_rows(connection, date(2020, 11, 1))
    frame = read_training_set(summary.path)
    assert len(frame) == summary.rows and fingerprint(frame) == summary.fingerprint
    # The snapshot holds exactly the training rows, in order, value for value.
    assert list(frame.columns) == list(rows.columns)
    assert (frame["sk_id_curr"].to_numpy() == rows["sk_id_curr"].to_numpy()).all()
    numeric = [name for name in rows.columns if name != "application_month"]
    assert np.array_equal(
        frame[numeric].to_numpy(float, na_value=np.nan), rows[numeric].to_numpy(float, na_value=np.nan), equal_nan=True
    )
    assert (frame["application_month"].isna() == rows["application_month"].isna()).all()
    assert [path.name for path in tmp_path.iterdir()] == ["2020-11.parquet"]
    assert summary.latest_month == date(2020, 10, 1)
    changed = frame.copy()
    changed.loc[0, "amt_credit"] += 1
    assert fingerprint(changed) != summary.fingerprint


def test_an_empty_training_set_is_refused_and_leaves_no_file(built_warehouse, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    with connect(warehouse) as connection:
        connection.execute("delete from marts.fct_application_features")
    with connect(warehouse, read_only=True) as connection, pytest.raises(ValueError, match="no labelled applications"):
        write_training_set(connection, date(2020, 11, 1), tmp_path / "sets" / "2020-11.parquet")
    assert list((tmp_path / "sets").iterdir()) == []


def test_same_rows_and_config_give_the_same_model(history_only_training_set):
    first = train_model(history_only_training_set, QUICK)
    second = train_model(history_only_training_set, QUICK)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.metrics == second.metrics
    assert first.metrics["validation_auc"] > 0.65, "the generated data carries real signal"
    other_seed = train_model(history_only_training_set, replace(QUICK, seed=1))
    assert other_seed.booster.model_to_string() != first.booster.model_to_string()


def test_model_store_keeps_every_version_and_refuses_a_tampered_model(history_only_training_set, tmp_path):
    trained = train_model(history_only_training_set, QUICK)
    month = date(2020, 10, 1)
    card = save_model(trained, month, "abc123", QUICK, tmp_path)
    booster, loaded = load_model(tmp_path, card.version)
    assert loaded == card and loaded.feature_names == trained.feature_names
    folder = tmp_path / card.version
    card_json = json.loads((folder / "card.json").read_text())
    assert {
        "params",
        "metrics",
        "feature_names",
        "training_fingerprint",
        "library_versions",
        "model_sha256",
        "windows",
        "protected_attributes",
        "excluded_features",
    } <= set(card_json)
    assert card_json["protected_attributes"] == ["CODE_GENDER", "NAME_FAMILY_STATUS"]
    # The card says what each phase of the training cost, for `make bench` and the UI.
    assert list(card_json["timings"]) == ["tuning", "early_stopped_fit", "validation_fit", "refit"]
    assert all(seconds > 0 for seconds in card_json["timings"].values())
    sample = history_only_training_set.head(200)
    assert np.allclose(
        predict(booster, sample, card.feature_names), predict(trained.booster, sample, trained.feature_names)
    )
    assert reusable_card(tmp_path, month, "abc123", QUICK) == card
    assert reusable_card(tmp_path, month, "other", QUICK) is None
    assert reusable_card(tmp_path, month, "abc123", replace(QUICK, n_trials=3)) is None

    # The month trained again (another seed): a new version beside the old one, which still loads.
    retrained = save_model(
        train_model(history_only_training_set, replace(QUICK, seed=1)),
        month,
        "abc123",
        replace(QUICK, seed=1),
        tmp_path,
    )
    assert retrained.version != card.version
    assert [c.version for c in month_cards(tmp_path, month)] == sorted(
        [retrained.version, card.version], key=lambda v: v != retrained.version
    )
    assert load_model(tmp_path, card.version)[1] == card and load_model(tmp_path, retrained.version)[1] == retrained

    model_file = folder / "model.txt"
    model_file.write_text(model_file.read_text().replace("num_leaves=", "num_leaves=1", 1))
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path, card.version)
    assert reusable_card(tmp_path, month, "abc123", QUICK) is None, "a model that fails its check is trained again"
    with pytest.raises(ValueError, match="not a model version"):
        read_card(tmp_path, "../2020-10")
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.partial"))


def test_decision_policy_grades_and_decides_at_its_thresholds():
    policy = DecisionPolicy(grade_bounds=(0.03, 0.06, 0.10, 0.20), review_from=0.12, decline_from=0.30)
    probabilities = np.array([0.01, 0.03, 0.059, 0.07, 0.119, 0.12, 0.25, 0.30, 0.9])
    assert list(policy.grades(probabilities)) == ["A", "B", "B", "C", "D", "D", "E", "E", "E"]
    assert list(policy.decisions(probabilities)) == [
        "approve",
        "approve",
        "approve",
        "approve",
        "approve",
        "review",
        "review",
        "decline",
        "decline",
    ]
    for bad in (
        {"review_from": 0.4, "decline_from": 0.3},
        {"grade_bounds": (0.1, 0.05, 0.2, 0.3)},
        {"review_from": 0.0},
    ):
        with pytest.raises(ValueError):
            DecisionPolicy(**bad)


@pytest.fixture(scope="module")
def quick_model(history_only_training_set):
    return train_model(history_only_training_set, QUICK)


def test_scoring_refuses_rows_without_the_models_features(history_only_training_set, quick_model):
    trained = quick_model
    rows = history_only_training_set.head(50)
    scored = score(trained.booster, rows, trained.feature_names, "test")
    assert list(scored.columns) == list(PREDICTION_COLUMNS)
    assert scored["default_probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="lack"):
        score(trained.booster, rows.drop(columns=["ext_source_3"]), trained.feature_names, "test")


PROTECTED_SOURCES = {"code_gender", "name_family_status"}


def test_no_protected_attribute_or_feature_computed_from_one_reaches_the_model(history_only_training_set, quick_model):
    assert not {source_column(name) for name in quick_model.feature_names} & PROTECTED_SOURCES
    assert {source_column(name) for name in quick_model.excluded_features} == PROTECTED_SOURCES
    assert quick_model.protected_attributes == ("CODE_GENDER", "NAME_FAMILY_STATUS")
    # A derived feature goes with what it is computed from: protecting age removes the employed-to-age ratio too.
    candidates = ["days_birth", "employed_to_age_ratio", "amt_credit", "code_gender__f"]
    assert excluded_features(candidates, ("DAYS_BIRTH",)) == ["days_birth", "employed_to_age_ratio"]
    with pytest.raises(ValueError, match="unknown"):
        TrainingConfig(protected_attributes=("NOT_A_COLUMN",))
    # The launchpad may protect more than the policy, never fewer.
    assert require_policy(["code_gender", "NAME_FAMILY_STATUS", "NAME_TYPE_SUITE"])[-1] == "NAME_TYPE_SUITE"
    with pytest.raises(ValueError, match="never fewer"):
        require_policy(["CODE_GENDER"])


@pytest.fixture(scope="module")
def november_scored(built_warehouse, quick_model):
    """November's applications scored by the history-only model, with their raw values and contributions."""
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = scoring_rows(connection, date(2020, 11, 1))
        values = applicant_values(connection, month=date(2020, 11, 1))
    scored = score(quick_model.booster, rows, quick_model.feature_names, "test", applicant_values=values)
    return rows, values, scored


def test_reasons_are_source_columns_true_of_the_applicant(quick_model, november_scored):
    rows, values, scored = november_scored
    grouped, sources = source_contributions(quick_model.booster, rows, quick_model.feature_names)
    position = {source: index for index, source in enumerate(sources)}
    catalog = default_catalog()
    categorical_reasons = missing_reasons = 0
    for row in range(len(rows)):
        codes = [scored.at[row, f"reason_code_{slot}"] for slot in range(1, 5)]
        present = [code for code in codes if code is not None]
        assert codes[: len(present)] == present, "reasons fill from the first"
        assert len(set(present)) == len(present), "one source column, one reason"
        assert not set(present) & PROTECTED_SOURCES and all("__" not in code for code in present)
        pushed = grouped[row, [position[code] for code in present]]
        assert (pushed > 0).all() and list(pushed) == sorted(pushed, reverse=True)
        expected = [sources[i] for i in np.argsort(-grouped[row, :-1], kind="stable")[:4] if grouped[row, i] > 0]
        assert present == expected, "the largest summed contributions, in order"
        for slot, code in enumerate(present, start=1):
            label, value = scored.at[row, f"reason_{slot}"].split(": ", 1)
            assert label == catalog.label(code)
            if code in CATEGORICAL_COLUMNS:
                raw = values.at[row, code]
                assert value == (NOT_ON_FILE if pd.isna(raw) else raw), (code, value, raw)
                categorical_reasons += 1
            elif code in SENTINELS and rows.at[row, SENTINELS[code][0]] == 1:
                assert value == SENTINELS[code][1], (
                    "a pensioner is told they are not employed, not that it is not on file"
                )
            elif value == NOT_ON_FILE:
                assert pd.isna(rows.at[row, code])
                missing_reasons += 1
            else:
                assert not pd.isna(rows.at[row, code])
    assert categorical_reasons > 0 and missing_reasons > 0, "categorical values and missing values both give reasons"
    # One fact, one reason: the employment sentinel and the employment-to-age ratio join days_employed.
    assert not set(scored[[f"reason_code_{slot}" for slot in range(1, 5)]].stack()) & {
        "days_employed_anomaly",
        "employed_to_age_ratio",
    }
    assert scored["reason_code_1"].notna().mean() > 0.9


def test_contributions_summed_per_source_column_add_up_to_the_raw_score(quick_model, november_scored):
    rows = november_scored[0]
    booster, features = quick_model.booster, quick_model.feature_names
    grouped, sources = source_contributions(booster, rows, features)
    assert "employed_to_age_ratio" not in sources and "days_employed" in sources
    raw = booster.predict(rows[features].to_numpy(dtype=np.float32, na_value=np.nan), raw_score=True)
    assert grouped.shape == (len(rows), len(sources) + 1)
    assert np.allclose(grouped.sum(axis=1), raw, atol=1e-9)


def test_a_value_never_seen_before_is_named_as_such(quick_model, november_scored):
    """Every categorical column of November given a value never seen before: each such reason says so, with the value."""
    rows, values, _ = november_scored
    changed, changed_values = rows.copy(), values.copy()
    one_hot = {source_column(name) for name in quick_model.feature_names if "__" in name}
    for source in one_hot:
        changed[[name for name in quick_model.feature_names if source_column(name) == source]] = 0
        changed[f"{source}__unseen"] = 1
        changed_values[source] = f"New {source}"
    reasons = explain(quick_model.booster, changed, quick_model.feature_names, changed_values, count=4)
    named = 0
    for slot in range(1, 5):
        for code, text in zip(reasons[f"reason_code_{slot}"], reasons[f"reason_{slot}"]):
            if code in one_hot:
                assert text == f"{default_catalog().label(code)}: {NEVER_SEEN} (New {code})"
                named += 1
    assert named > 0


def test_the_catalogue_labels_every_source_column_of_the_mart(built_warehouse):
    catalog = FeatureCatalog.from_csv()
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        columns = [row[0] for row in connection.execute("describe marts.fct_application_features").fetchall()]
    sources = {source_column(name) for name in columns} - {"sk_id_curr", "application_month", "is_history"}
    assert sources == set(catalog.entries), "every source column, and nothing else, has a readable label"
    assert len({entry.label for entry in catalog.entries.values()}) == len(catalog.entries)
    assert catalog.feature_label("name_contract_type__unseen") == "Contract type = a value never seen before"
