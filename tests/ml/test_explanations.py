"""Reasons: source columns true of the applicant, contributions that add up, new values named."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.explanations import NEVER_SEEN, NOT_ON_FILE, SENTINELS, explain, source_contributions
from ml.features import CATEGORICAL_COLUMNS, default_catalog, source_column
from tests.ml.conftest import PROTECTED_SOURCES


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
    """Every categorical column of November given an unseen value: each such reason says so, with the value."""
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
        for code, text in zip(reasons[f"reason_code_{slot}"], reasons[f"reason_{slot}"], strict=True):
            if code in one_hot:
                assert text == f"{default_catalog().label(code)}: {NEVER_SEEN} (New {code})"
                named += 1
    assert named > 0
