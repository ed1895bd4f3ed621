"""Point in time, reproducible training, the model store and the decision policy."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.dataset import fingerprint, read_training_set, split_out_of_time, training_rows, write_training_set
from ml.explanations import contributions, readable_label
from ml.model_store import ModelIntegrityError, load_model, reusable_card, save_model
from ml.scoring import DecisionPolicy, score
from ml.training import TrainingConfig, predict, train_model
from warehouse.database import connect
from warehouse.predictions import PREDICTION_COLUMNS
from warehouse.split import delivery_months

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
            row[0] for row in connection.execute(
                "select sk_id_curr from raw.applications where application_month >= ?", [month]
            ).fetchall()
        }
    months = pd.to_datetime(rows["application_month"].dropna()).dt.date
    assert (months < month).all()
    assert not ids_of_month_or_later & set(rows["sk_id_curr"])
    assert len(rows) == delivered_before and rows["target"].notna().all()
    assert rows["is_history"].sum() > 0


def test_out_of_time_validation_is_the_latest_month(built_warehouse):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        rows = training_rows(connection, date(2021, 1, 1))
    train, valid = split_out_of_time(rows)
    assert set(pd.to_datetime(valid["application_month"]).dt.date) == {date(2020, 12, 1)}
    assert pd.to_datetime(train["application_month"].dropna()).max().date() < date(2020, 12, 1)
    history_train, history_valid = split_out_of_time(rows[rows["is_history"]])
    assert history_valid["sk_id_curr"].min() > history_train["sk_id_curr"].max()


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
    assert np.array_equal(frame[numeric].to_numpy(float, na_value=np.nan), rows[numeric].to_numpy(float, na_value=np.nan), equal_nan=True)
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


def test_model_store_round_trip_refuses_a_tampered_model(history_only_training_set, tmp_path):
    trained = train_model(history_only_training_set, QUICK)
    month = date(2020, 10, 1)
    card = save_model(trained, month, "abc123", QUICK, tmp_path)
    booster, loaded = load_model(tmp_path, month)
    assert loaded == card and loaded.feature_names == trained.feature_names
    card_json = json.loads((tmp_path / "2020-10" / "card.json").read_text())
    assert {"params", "metrics", "feature_names", "training_fingerprint", "library_versions", "model_sha256"} <= set(card_json)
    # The card says what each phase of the training cost, for `make bench` and the UI.
    assert list(card_json["timings"]) == ["tuning", "validation_fit", "calibration", "refit", "score_baseline"]
    assert all(seconds > 0 for seconds in card_json["timings"].values())
    sample = history_only_training_set.head(200)
    assert np.allclose(predict(booster, sample, card.feature_names), predict(trained.booster, sample, trained.feature_names))
    assert reusable_card(tmp_path, month, "abc123", QUICK) == card
    assert reusable_card(tmp_path, month, "other", QUICK) is None
    assert reusable_card(tmp_path, month, "abc123", replace(QUICK, n_trials=3)) is None
    model_file = tmp_path / "2020-10" / "model.txt"
    model_file.write_text(model_file.read_text().replace("num_leaves=", "num_leaves=1", 1))
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path, month)
    assert reusable_card(tmp_path, month, "abc123", QUICK) is None, "a model that fails its check is trained again"
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.partial"))


def test_decision_policy_grades_and_decides_at_its_thresholds():
    policy = DecisionPolicy(grade_bounds=(0.03, 0.06, 0.10, 0.20), review_from=0.12, decline_from=0.30)
    probabilities = np.array([0.01, 0.03, 0.059, 0.07, 0.119, 0.12, 0.25, 0.30, 0.9])
    assert list(policy.grades(probabilities)) == ["A", "B", "B", "C", "D", "D", "E", "E", "E"]
    assert list(policy.decisions(probabilities)) == [
        "approve", "approve", "approve", "approve", "approve", "review", "review", "decline", "decline"
    ]
    for bad in ({"review_from": 0.4, "decline_from": 0.3}, {"grade_bounds": (0.1, 0.05, 0.2, 0.3)}, {"review_from": 0.0}):
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


def test_reason_codes_are_the_largest_positive_contributions_of_present_features(history_only_training_set, quick_model):
    booster, features = quick_model.booster, quick_model.feature_names
    rows = history_only_training_set.iloc[:400]
    contribution = contributions(booster, rows, features)
    values = rows[features].to_numpy(dtype=float, na_value=np.nan)
    # Contributions add up to the model's raw score, so they are an exact account of it.
    raw = booster.predict(values, num_iteration=booster.best_iteration or None, raw_score=True)
    assert np.allclose(contribution.sum(axis=1), raw, atol=1e-6)

    scored = score(booster, rows, features, "test", feature_descriptions={"ext_source_3": "Normalised score from external source 3."})
    position = {name: index for index, name in enumerate(features)}
    named_rows = 0
    for row in range(len(rows)):
        codes = [scored.at[row, f"reason_code_{i}"] for i in (1, 2, 3)]
        present = [code for code in codes if code is not None]
        assert codes[: len(present)] == present, "reasons fill from the first"
        pushed = contribution[row, [position[code] for code in present]]
        assert (pushed > 0).all() and list(pushed) == sorted(pushed, reverse=True)
        assert not np.isnan(values[row, [position[code] for code in present]]).any(), "a missing value is never a reason"
        eligible = contribution[row, :-1].copy()
        eligible[np.isnan(values[row])] = -np.inf
        expected = [features[i] for i in np.argsort(-eligible, kind="stable")[:3] if eligible[i] > 0]
        assert present == expected
        named_rows += bool(present)
    assert named_rows > 0.9 * len(rows)
    labelled = scored.loc[scored["reason_code_1"] == "ext_source_3", "reason_1"]
    assert set(labelled) <= {"Normalised score from external source 3"}


def test_reason_labels_come_from_the_dbt_descriptions():
    assert readable_label("code_gender__f", "1 when code_gender is the level 'F'.") == "code_gender is F"
    assert readable_label("organization_type__unseen", "1 when organization_type holds a value outside the fixed level list (a level never seen before).") == "organization_type has a value never seen before"
    assert readable_label("amt_credit", "Credit amount of the loan.") == "Credit amount of the loan"
    assert readable_label("new_feature", None) == "new_feature"
