"""A drifted month for monitoring drills: incomes up by a third, a housing type never seen
before, and a riskier intake (external scores a quarter lower).

Income and housing type alone barely move a model's scores (it leans on the external
scores), so the drill also lowers two external scores: the score distribution must shift
too. Only the named columns change; every other column, and TARGET, stay as generated, so
the drift marts must flag these columns, the features computed from them and the score,
and nothing else.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from warehouse.ingestion.delivery_names import month_file_name
from warehouse.sample_data.splitter import split_plan

INCOME_FACTOR = 4 / 3
NEW_HOUSING_LEVEL = "Shared housing"  # not in the one-hot level list: lands in name_housing_type__unseen
NEW_HOUSING_SHARE = 0.3
EXTERNAL_SCORE_FACTOR = 0.75
LOWERED_EXTERNAL_SCORES = ("EXT_SOURCE_2", "EXT_SOURCE_3")
DRIFTED_COLUMNS = ("AMT_INCOME_TOTAL", "NAME_HOUSING_TYPE", *LOWERED_EXTERNAL_SCORES)


def drift_rows(rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    drifted = rows.copy()
    drifted["AMT_INCOME_TOTAL"] = (drifted["AMT_INCOME_TOTAL"] * INCOME_FACTOR).round(1)
    chosen = np.random.default_rng(seed).random(len(drifted)) < NEW_HOUSING_SHARE
    drifted.loc[chosen, "NAME_HOUSING_TYPE"] = NEW_HOUSING_LEVEL
    for column in LOWERED_EXTERNAL_SCORES:
        drifted[column] = drifted[column] * EXTERNAL_SCORE_FACTOR
    return drifted


def drift_month(frame: pd.DataFrame, month: date, seed: int, month_rows: int | None = None) -> pd.DataFrame:
    """The generated frame with the rows of `month`'s delivery drifted (the others untouched)."""
    [part] = [part for part in split_plan(len(frame), month_rows) if part.file_name == month_file_name(month)] or [None]
    if part is None:
        raise ValueError(f"{month:%Y-%m} is not one of the generated delivery months")
    drifted = frame.copy()
    drifted.iloc[part.start : part.stop] = drift_rows(frame.iloc[part.start : part.stop], seed)
    return drifted
