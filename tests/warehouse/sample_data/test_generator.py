"""The generator against the 122-column contract and the real file's key facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from warehouse.ingestion.contract import (
    BUILDING_MEASURES,
    BUREAU_ENQUIRIES,
    COLUMNS,
    FLOAT,
    INTEGER,
    SOCIAL_CIRCLE,
    TEXT,
)
from warehouse.sample_data import levels
from warehouse.sample_data.generator import generate_applications, id_span
from warehouse.sample_data.splitter import TRUE_PROBABILITY, TRUE_SCORES_FOLDER, split_plan, write_parts


@pytest.fixture(scope="module")
def full_frame() -> pd.DataFrame:
    return generate_applications(seed=42)


def test_columns_follow_the_contract_in_order_and_type(full_frame):
    assert list(full_frame.columns) == [name for name, _ in COLUMNS]
    assert len(full_frame.columns) == 122
    for name, sql_type in COLUMNS:
        column = full_frame[name]
        if sql_type == INTEGER:
            assert pd.api.types.is_integer_dtype(column), name
        elif sql_type == FLOAT:
            assert pd.api.types.is_float_dtype(column), name
        else:
            assert sql_type == TEXT and not pd.api.types.is_numeric_dtype(column), name
    counts = pd.Series([t for _, t in COLUMNS]).value_counts()
    assert (counts[INTEGER], counts[FLOAT], counts[TEXT]) == (41, 65, 16)


def test_full_size_rows_ids_and_default_rate(full_frame):
    assert len(full_frame) == 307_511
    assert full_frame["SK_ID_CURR"].is_unique
    assert full_frame["SK_ID_CURR"].between(100_002, 456_255).all()
    assert full_frame["TARGET"].mean() == pytest.approx(0.0807, abs=0.003)


@pytest.mark.parametrize(
    ("column", "real_missing_rate"),
    [
        ("EXT_SOURCE_1", 0.5638),
        ("EXT_SOURCE_2", 0.0021),
        ("EXT_SOURCE_3", 0.1983),
        ("OWN_CAR_AGE", 0.6599),
        ("OCCUPATION_TYPE", 0.3135),
        ("APARTMENTS_AVG", 0.5075),
        ("COMMONAREA_MEDI", 0.6987),
        ("TOTALAREA_MODE", 0.4827),
        ("FONDKAPREMONT_MODE", 0.6839),
        ("AMT_REQ_CREDIT_BUREAU_YEAR", 0.1350),
        ("OBS_30_CNT_SOCIAL_CIRCLE", 0.0033),
        ("NAME_TYPE_SUITE", 0.0042),
        ("AMT_GOODS_PRICE", 0.0009),
        ("AMT_INCOME_TOTAL", 0.0),
    ],
)
def test_missing_rates_match_the_real_file(full_frame, column, real_missing_rate):
    assert full_frame[column].isna().mean() == pytest.approx(real_missing_rate, abs=0.015)


@pytest.mark.slow  # scans the full-size sample
def test_blocks_go_missing_together(full_frame):
    for measure in BUILDING_MEASURES:
        masks = [full_frame[f"{measure}_{stat}"].isna() for stat in ("AVG", "MODE", "MEDI")]
        assert masks[0].equals(masks[1]) and masks[0].equals(masks[2]), measure
    for block in (SOCIAL_CIRCLE, BUREAU_ENQUIRIES):
        masks = full_frame[list(block)].isna()
        assert masks.eq(masks.iloc[:, 0], axis=0).all(axis=None), block
    # Rows missing one building measure mostly miss the others too (median 10 of 14 missing).
    missing_count = full_frame[[f"{m}_AVG" for m in BUILDING_MEASURES]].isna().sum(axis=1)
    assert missing_count.quantile(0.25) == 0 and 8 <= missing_count.median() <= 12


def test_days_employed_anomaly_is_exactly_the_xna_organisations(full_frame):
    anomaly = full_frame["DAYS_EMPLOYED"] == 365_243
    assert anomaly.sum() == pytest.approx(55_374, rel=0.01)
    assert anomaly.equals(full_frame["ORGANIZATION_TYPE"] == "XNA")
    assert set(full_frame.loc[anomaly, "NAME_INCOME_TYPE"]) == {"Pensioner", "Unemployed"}
    assert (full_frame.loc[~anomaly, "DAYS_EMPLOYED"] <= 0).all()
    assert full_frame.loc[anomaly, "TARGET"].mean() < full_frame.loc[~anomaly, "TARGET"].mean()


def test_rare_levels_of_the_real_file_are_present(full_frame):
    assert (full_frame["CODE_GENDER"] == "XNA").sum() == 4
    assert (full_frame["NAME_FAMILY_STATUS"] == "Unknown").sum() == 2
    assert (full_frame["NAME_INCOME_TYPE"] == "Maternity leave").sum() == 5
    for column, counts in levels.CATEGORICAL_LEVELS.items():
        assert set(full_frame[column].dropna()) == set(counts), column


def test_default_rates_follow_the_real_segments(full_frame):
    rate = full_frame.groupby("CODE_GENDER")["TARGET"].mean()
    assert rate["M"] == pytest.approx(0.1014, abs=0.012) and rate["F"] == pytest.approx(0.0700, abs=0.01)
    education = full_frame.groupby("NAME_EDUCATION_TYPE")["TARGET"].mean()
    assert education["Higher education"] < education["Secondary / secondary special"] < education["Lower secondary"]
    contract = full_frame.groupby("NAME_CONTRACT_TYPE")["TARGET"].mean()
    assert contract["Revolving loans"] < contract["Cash loans"]
    rating = full_frame.groupby("REGION_RATING_CLIENT_W_CITY")["TARGET"].mean()
    assert rating[1] < rating[2] < rating[3]
    age = -full_frame["DAYS_BIRTH"] / 365
    young, old = full_frame.loc[age < 25, "TARGET"].mean(), full_frame.loc[age >= 65, "TARGET"].mean()
    assert young > 0.10 and old < 0.065


def test_external_scores_are_the_strongest_signals(full_frame):
    target = full_frame["TARGET"]
    correlation = {
        c: full_frame[c].corr(target) for c in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3", "DAYS_BIRTH")
    }
    for column in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        assert -0.22 < correlation[column] < -0.13, (column, correlation[column])
    assert 0.05 < correlation["DAYS_BIRTH"] < 0.10
    numeric = full_frame.drop(columns=["TARGET", "SK_ID_CURR", "DAYS_EMPLOYED"]).select_dtypes("number")
    strongest = numeric.corrwith(target).abs().sort_values(ascending=False).index[:3]
    assert set(strongest) == {"EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"}


def test_amounts_match_the_real_quartiles(full_frame):
    quartiles = full_frame[["AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "DAYS_BIRTH"]].quantile([0.25, 0.5, 0.75])
    real = {
        "AMT_INCOME_TOTAL": (112_500, 147_150, 202_500),
        "AMT_CREDIT": (270_000, 513_531, 808_650),
        "AMT_ANNUITY": (16_524, 24_903, 34_596),
        "DAYS_BIRTH": (-19_682, -15_750, -12_413),
    }
    for column, values in real.items():
        for generated, expected in zip(quartiles[column], values, strict=True):
            assert generated == pytest.approx(expected, rel=0.12), column
    assert full_frame["AMT_INCOME_TOTAL"].max() == 117_000_000


def test_same_seed_same_rows_other_seed_other_rows():
    first, again, other = (generate_applications(rows=2_000, seed=s) for s in (3, 3, 4))
    pd.testing.assert_frame_equal(first, again)
    assert not first["SK_ID_CURR"].equals(other["SK_ID_CURR"])


def test_split_plan_follows_the_original_operation():
    plan = split_plan(307_511)
    assert [(p.file_name, p.rows) for p in plan] == [
        ("initial.csv", 267_511),
        ("20201001.csv", 10_000),
        ("20201101.csv", 10_000),
        ("20201201.csv", 10_000),
        ("20210101.csv", 10_000),
    ]
    small = split_plan(24_000)
    assert len(small) == 5 and small[-1].stop == 24_000 and len({p.rows for p in small[1:]}) == 1
    with pytest.raises(ValueError):
        split_plan(10)


def test_months_of_a_chosen_size_leave_the_rest_as_history():
    # Ten times the lender: a 3,075,110-row file in months of 100,000.
    plan = split_plan(3_075_110, month_rows=100_000)
    assert [(p.file_name, p.rows) for p in plan] == [
        ("initial.csv", 2_675_110),
        ("20201001.csv", 100_000),
        ("20201101.csv", 100_000),
        ("20201201.csv", 100_000),
        ("20210101.csv", 100_000),
    ]
    assert [p.rows for p in split_plan(24_000, month_rows=3)] == [23_988, 3, 3, 3, 3]
    for rows, month_rows in ((24_000, 0), (24_000, -5), (24_000, 4_801)):
        with pytest.raises(ValueError, match="month|history"):
            split_plan(rows, month_rows)


def test_the_ceiling_is_realistic_and_its_scores_sit_beside_each_file(tmp_path, small_generated):
    from sklearn.metrics import roc_auc_score

    frame, probability = small_generated.frame, small_generated.true_probability
    # Real application-only models reach about 0.76; the best possible score a little more.
    assert 0.74 < roc_auc_score(frame["TARGET"], probability) < 0.80
    assert (probability[frame["CODE_GENDER"] == "XNA"] == 0).all()
    written = write_parts(frame, tmp_path, probability)
    for path in written:
        truth = pd.read_csv(tmp_path / TRUE_SCORES_FOLDER / path.name)
        delivered = pd.read_csv(path, usecols=["SK_ID_CURR"])
        assert list(truth.columns) == ["SK_ID_CURR", TRUE_PROBABILITY]
        assert truth["SK_ID_CURR"].equals(delivered["SK_ID_CURR"]) and truth[TRUE_PROBABILITY].between(0, 1).all()


def test_written_files_keep_the_header_and_rows(tmp_path, small_frame):
    written = write_parts(small_frame, tmp_path)
    assert [p.name for p in written] == ["initial.csv", "20201001.csv", "20201101.csv", "20201201.csv", "20210101.csv"]
    back = pd.concat([pd.read_csv(p) for p in written], ignore_index=True)
    assert list(back.columns) == list(small_frame.columns)
    assert back["SK_ID_CURR"].equals(small_frame["SK_ID_CURR"])
    assert np.allclose(back["AMT_CREDIT"], small_frame["AMT_CREDIT"])
    assert not list(tmp_path.glob("*.partial"))


def test_a_drifted_month_changes_income_and_housing_of_that_month_only(tmp_path, capsys):
    from assets.command_line.main import main
    from warehouse.sample_data.drift_drill import DRIFTED_COLUMNS, INCOME_FACTOR, NEW_HOUSING_LEVEL

    plain, drifted = tmp_path / "plain", tmp_path / "drifted"
    assert main(["generate", str(plain), "--rows", "12000", "--seed", "3"]) == 0
    assert main(["generate", str(drifted), "--rows", "12000", "--seed", "3", "--drift", "2021-01"]) == 0
    assert "2021-01 drifted" in capsys.readouterr().out
    for name in ("initial.csv", "20201201.csv"):
        assert (plain / name).read_bytes() == (drifted / name).read_bytes(), f"{name} must be untouched"
    before, after = pd.read_csv(plain / "20210101.csv"), pd.read_csv(drifted / "20210101.csv")
    assert np.allclose(after["AMT_INCOME_TOTAL"], before["AMT_INCOME_TOTAL"] * INCOME_FACTOR, rtol=1e-6, atol=0.1)
    share = (after["NAME_HOUSING_TYPE"] == NEW_HOUSING_LEVEL).mean()
    assert 0.2 < share < 0.4 and NEW_HOUSING_LEVEL not in set(before["NAME_HOUSING_TYPE"])
    assert np.allclose(after["EXT_SOURCE_3"], before["EXT_SOURCE_3"] * 0.75, equal_nan=True)
    untouched = [c for c in before.columns if c not in DRIFTED_COLUMNS]
    pd.testing.assert_frame_equal(before[untouched], after[untouched])
    assert main(["generate", str(tmp_path / "x"), "--rows", "12000", "--drift", "2022-05"]) == 2


def test_generate_writes_months_of_the_rows_asked_and_refuses_too_many_before_generating(tmp_path, capsys):
    from assets.command_line.main import main

    out = tmp_path / "files"
    assert main(["generate", str(out), "--rows", "3000", "--month-rows", "500", "--drift", "2020-11"]) == 0
    months = sorted(out.glob("2020*.csv")) + sorted(out.glob("2021*.csv"))
    assert [len(pd.read_csv(path)) for path in months] == [500, 500, 500, 500]
    assert len(pd.read_csv(out / "initial.csv")) == 1_000
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "none"), "--rows", "3000", "--month-rows", "700"]) == 2
    assert "too few" in capsys.readouterr().err
    assert not (tmp_path / "none").exists(), "nothing generated or written"


def test_ids_keep_the_real_range_up_to_its_size_and_spread_thinly_beyond():
    assert id_span(levels.REAL_ROW_COUNT) == 456_256 - 100_002
    for rows in (levels.REAL_ROW_COUNT + 1, 3 * levels.REAL_ROW_COUNT, 10 * levels.REAL_ROW_COUNT + 7):
        span = id_span(rows)
        assert rows <= span < rows * 1.16 + 1  # the real file fills 86 % of its range
