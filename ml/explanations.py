"""Reasons: the source columns that pushed an applicant's risk up most, stated with the applicant's own value.

LightGBM's per-row contributions (`pred_contrib`, TreeSHAP) of all features plus a bias add
up to the model's raw score (log-odds). The contributions of one source column's features
(a categorical column's one-hot columns, its `__unseen` column included) are summed, so a
column is one reason and never two, and no level the applicant does not have is ever
named: the reason is the column, stated with the value the applicant gave ("Contract type:
Revolving loans"). A missing value is a reason too when it pushes the risk up ("External
score 3: not on file"), and a value never seen before says so. A protected attribute is
never a feature (`ml.features`), so it can never be a reason.

`explain` works on any model and any frame holding its features: a data scientist can call
it from a notebook, and the batch scoring and `credit explain` call it the same way.
"""

from __future__ import annotations

import inspect
import math

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.features import (
    CATEGORICAL_COLUMNS,
    ONE_HOT_SEPARATOR,
    UNSEEN_LEVEL,
    FeatureCatalog,
    default_catalog,
    source_column,
)
from ml.prediction import feature_matrix
from warehouse.publishing.predictions_table import REASON_SLOTS

REASON_COUNT = REASON_SLOTS  # the most a decision gives, and the default
NOT_ON_FILE = "not on file"
NEVER_SEEN = "a value never seen before"
# Staging turns the source's sentinel into null plus a flag (365243 days employed = not employed):
# the value is then known, and stated as such, not "not on file".
SENTINELS = {"days_employed": ("days_employed_anomaly", "not employed (pension or no work)")}


def reason_column_names(count: int = REASON_COUNT) -> list[str]:
    return [f"reason_code_{i}" for i in range(1, count + 1)] + [f"reason_{i}" for i in range(1, count + 1)]


def source_contributions(
    booster: lgb.Booster,
    frame: pd.DataFrame,
    features: list[str],
    catalog: FeatureCatalog | None = None,
    matrix: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Per row: each source column's summed contribution to the log-odds, then the bias in the last column.

    A column whose catalogue entry names a `reason_group` (the employment sentinel flag, the
    employment-to-age ratio) adds to that column's reason: one fact, one reason. `matrix` is
    the frame's feature matrix when the caller has it already.
    """
    catalog = catalog or default_catalog()
    contribution = booster.predict(
        feature_matrix(frame, features) if matrix is None else matrix,
        num_iteration=booster.best_iteration or None,
        pred_contrib=True,
    )
    grouping, sources = _grouping(catalog, tuple(features))
    return np.column_stack([contribution[:, :-1] @ grouping, contribution[:, -1]]), sources


# Kept per catalogue object and feature list (a catalogue holds a dict, so it cannot be a cache key itself).
_GROUPINGS: dict[tuple[int, tuple[str, ...]], tuple[FeatureCatalog, np.ndarray, list[str]]] = {}


def _grouping(catalog: FeatureCatalog, features: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Which source column each feature's contribution adds to (a 0/1 matrix), and the sources in order.

    The same for every call with one model: kept, not rebuilt for each request online.
    """
    cached = _GROUPINGS.get((id(catalog), features))
    if cached is not None and cached[0] is catalog:
        return cached[1], cached[2]
    owners = [catalog.reason_source(feature) for feature in features]
    sources = list(dict.fromkeys(owners))
    position = {source: index for index, source in enumerate(sources)}
    grouping = np.zeros((len(features), len(sources)))
    grouping[np.arange(len(features)), [position[owner] for owner in owners]] = 1.0
    grouping.flags.writeable = False
    if len(_GROUPINGS) >= 16:
        _GROUPINGS.clear()
    _GROUPINGS[(id(catalog), features)] = (catalog, grouping, sources)
    return grouping, sources


def _is_missing(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def format_value(value: float, value_format: str) -> str:
    """A numeric value written for a person, by the catalogue's format."""
    if value_format == "amount" or value_format == "count":
        return f"{value:,.0f}"
    if value_format == "flag":
        return {1.0: "yes", 0.0: "no"}.get(float(value), f"{value:g}")
    if value_format == "days_before":
        return f"{abs(value):,.0f} days before the application"
    if value_format == "age":
        return f"{math.floor(-value / 365.25)} years"
    return f"{value:.2f}"


class _Values:
    """The applicant's own value of each source column, as a reason states it.

    Values are read by row position from each column's array, taken once per column: pandas'
    lookup of one cell costs more than the whole reason for one application online, and was
    repeated for every row and reason of a month.
    """

    def __init__(
        self, frame: pd.DataFrame, features: list[str], applicant_values: pd.DataFrame | None, catalog: FeatureCatalog
    ):
        self.frame = frame
        self.features = set(features)
        self.raw = applicant_values
        self.catalog = catalog
        self._arrays: dict[tuple[bool, str], np.ndarray | None] = {}

    def _array(self, raw: bool, column: str) -> np.ndarray | None:
        key = (raw, column)
        if key not in self._arrays:
            table = self.raw if raw else self.frame
            present = table is not None and column in table.columns
            self._arrays[key] = table[column].to_numpy() if present else None
        return self._arrays[key]

    def _raw(self, row: int, source: str):
        values = self._array(True, source)
        return None if values is None else values[row]

    def _numeric(self, row: int, column: str) -> float:
        values = self._array(False, column)
        value = None if values is None else values[row]
        return float("nan") if _is_missing(value) or pd.isna(value) else float(value)

    def _categorical(self, row: int, source: str) -> str:
        unseen_column = f"{source}{ONE_HOT_SEPARATOR}{UNSEEN_LEVEL}"
        raw = self._raw(row, source)
        if self.raw is not None and source in self.raw.columns:
            if _is_missing(raw):
                return NOT_ON_FILE
            encoded_as_unseen = (
                self._numeric(row, unseen_column) == 1.0
                if unseen_column in self.features
                else (
                    source in self.features and math.isnan(self._numeric(row, source))  # a Y/N flag with another value
                )
            )
            return f"{NEVER_SEEN} ({raw})" if encoded_as_unseen else str(raw)
        # Without the raw values: read the level back from the encoding.
        if source in self.features:
            value = self._numeric(row, source)
            return NOT_ON_FILE if math.isnan(value) else {1.0: "Y", 0.0: "N"}.get(value, f"{value:g}")
        for feature in self.features:
            if source_column(feature) == source and self._numeric(row, feature) == 1.0:
                level = feature.split(ONE_HOT_SEPARATOR, 1)[1]
                return NEVER_SEEN if level == UNSEEN_LEVEL else level
        return NOT_ON_FILE

    def text(self, row: int, source: str) -> str:
        entry = self.catalog.entry(source)
        if source in CATEGORICAL_COLUMNS:
            value = self._categorical(row, source)
        elif source in SENTINELS and self._numeric(row, SENTINELS[source][0]) == 1.0:
            value = SENTINELS[source][1]
        else:
            number = self._numeric(row, source)
            value = NOT_ON_FILE if math.isnan(number) else format_value(number, entry.value_format)
        return f"{entry.label}: {value}"


def explain(booster: lgb.Booster, frame: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
    """`reason_code_1..count` (source columns) and `reason_1..count` (label: the applicant's value) per row.

    The frame of `reason_columns`, which takes the same arguments, indexed as the feature rows.
    """
    columns = reason_columns(booster, frame, *args, **kwargs)
    # Object columns, as the texts are made: inferring pandas' string type costs more than the reasons online.
    return pd.DataFrame(columns, index=frame.index, dtype=object)


def reason_columns(
    booster: lgb.Booster,
    frame: pd.DataFrame,
    features: list[str],
    applicant_values: pd.DataFrame | None = None,
    catalog: FeatureCatalog | None = None,
    count: int = REASON_COUNT,
    matrix: np.ndarray | None = None,
) -> dict[str, list]:
    """The reasons of each row as lists, in `reason_column_names()` order; `explain` makes its frame of them.

    The reasons of a row are the source columns whose summed contribution pushed its risk up,
    largest first; a slot past the last of them is None. `applicant_values` holds the raw
    text values of the categorical columns, row for row (`ml.dataset.applicant_values`).
    """
    if not 1 <= count <= REASON_COUNT:
        raise ValueError(f"between 1 and {REASON_COUNT} reasons, got {count}")
    if applicant_values is not None and len(applicant_values) != len(frame):
        raise ValueError(f"{len(applicant_values)} rows of applicant values for {len(frame)} rows of features")
    catalog = catalog or default_catalog()
    grouped, sources = source_contributions(booster, frame, features, catalog, matrix)
    pushes_up = np.where(grouped[:, :-1] > 0, grouped[:, :-1], -np.inf)
    order = np.argsort(-pushes_up, axis=1, kind="stable")[:, :count]
    chosen = np.take_along_axis(pushes_up, order, axis=1) > -np.inf
    values = _Values(frame, features, applicant_values, catalog)
    rows = len(frame)
    codes: list[list] = []
    texts: list[list] = []
    for slot in range(count):
        slot_codes = [sources[order[row, slot]] if chosen[row, slot] else None for row in range(rows)]
        codes.append(slot_codes)
        texts.append([None if code is None else values.text(row, code) for row, code in enumerate(slot_codes)])
    # The table always has four slots; fewer configured leave the rest empty.
    codes += [[None] * rows for _ in range(count, REASON_COUNT)]
    texts += [[None] * rows for _ in range(count, REASON_COUNT)]
    return dict(zip(reason_column_names(), codes + texts, strict=True))


# `explain` takes `reason_columns`' arguments: help() and editors show them.
explain.__signature__ = inspect.signature(reason_columns).replace(return_annotation=pd.DataFrame)
