"""Each feature's distribution in a model's development sample, in fixed bins: the feature-drift (PSI) reference.

The development sample is the deployed model's own training set: every labelled row
delivered before its month. Binning it once, when the model is trained, makes a month's
drift cost the month's rows alone: the monitoring build bins the month with these bins and
compares shares, and never reads the history again (`dbt_project/models/monitoring/drift.sql`).

- A numeric feature: the deciles of its known values are the cuts (each the first value whose
  cumulative share reaches the decile; distinct ones only, so a feature with few values gets
  fewer, never empty, bins), a value belongs to the bin numbered
  by how many cuts lie strictly below it (`ml.score_baseline.bin_index`, the rule SQL's
  `count_below` follows), and missing values are a bin of their own.
- A categorical feature, from its one-hot columns (`column__level`, `column__unseen`): a bin
  per column, named by its level, and `missing` for rows with none set (at most one is set).

Every feature of the mart is binned, those of protected attributes too, which the model never
reads: their drift is watched all the same, and only as shares of the sample in each bin.

The sample is the training set: the labelled rows the model was fitted on, as is usual for a
development sample. A month is every application scored. Where outcomes come only for loans
granted, a shift between the granted and the applying population therefore shows as drift:
the model was developed on the one and scores the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ml.features import ONE_HOT_SEPARATOR, source_column
from ml.score_baseline import bin_index

DECILES = np.arange(1, 10) / 10
MISSING_BIN = "missing"
NUMERIC, CATEGORICAL = "numeric", "categorical"


@dataclass(frozen=True)
class FeatureBaseline:
    feature: str
    kind: str  # numeric or categorical
    bins: list[str]  # names, in order: numeric "0".."k" then "missing"; categorical the levels then "missing"
    shares: list[float]  # share of the development rows in each bin
    cuts: list[float] | None  # numeric only: ascending; bin i holds values in (cuts[i-1], cuts[i]]
    rows: int

    def as_dict(self) -> dict:
        return asdict(self)


def _shares(counts: np.ndarray, rows: int) -> list[float]:
    return [round(float(count) / rows, 8) for count in counts]


def numeric_baseline(feature: str, values: np.ndarray) -> FeatureBaseline:
    """`values` as float64, NaN where missing."""
    known = values[~np.isnan(values)]
    cuts = np.unique(np.quantile(known, DECILES, method="inverted_cdf")) if len(known) else np.array([])
    counts = np.bincount(bin_index(cuts, known), minlength=len(cuts) + 1)
    return FeatureBaseline(
        feature=feature,
        kind=NUMERIC,
        bins=[str(index) for index in range(len(cuts) + 1)] + [MISSING_BIN],
        shares=_shares(np.append(counts, len(values) - len(known)), len(values)),
        # Stored as computed: the same doubles bin the development rows here and a month's rows in SQL.
        cuts=[float(cut) for cut in cuts],
        rows=len(values),
    )


def categorical_baseline(feature: str, level_counts: dict[str, int], rows: int) -> FeatureBaseline:
    """`level_counts`: rows with each one-hot column set, by level (the part after `__`), in the mart's order."""
    counts = np.array(list(level_counts.values()), dtype=np.int64)
    return FeatureBaseline(
        feature=feature,
        kind=CATEGORICAL,
        bins=[*level_counts, MISSING_BIN],
        shares=_shares(np.append(counts, rows - counts.sum()), rows),
        cuts=None,
        rows=rows,
    )


def feature_baselines(features: list[str], column: Callable[[str], np.ndarray]) -> list[FeatureBaseline]:
    """The baseline of every mart feature in `features` (one-hot columns grouped by their source column).

    `column(name)` gives one feature's values over the development rows as float64, NaN where
    missing: one column is in memory at a time.
    """
    one_hot: dict[str, list[str]] = {}
    numeric: list[str] = []
    for name in features:
        if ONE_HOT_SEPARATOR in name:
            one_hot.setdefault(source_column(name), []).append(name)
        else:
            numeric.append(name)
    baselines = [numeric_baseline(name, column(name)) for name in numeric]
    for source, columns in one_hot.items():
        counts, rows = {}, 0
        for name in columns:
            values = column(name)
            counts[name.split(ONE_HOT_SEPARATOR, 1)[1]], rows = int(np.nansum(values)), len(values)
        baselines.append(categorical_baseline(source, counts, rows))
    return baselines
