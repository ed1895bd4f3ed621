"""Which mart columns a model may read, and what each one is called when it is a reason.

A feature of the mart comes from one *source column*: a one-hot column
`name_contract_type__cash_loans` from `name_contract_type`, every other column from itself.
A derived feature (`credit_to_income_ratio`) also depends on the columns it is computed
from. Both facts, and the readable label of each source column, are in the dbt seed
`feature_catalog` (`dbt_project/seeds/feature_catalog.csv`), the one place they are written.

A protected attribute (`warehouse.fair_lending`) is removed with every feature that comes
from it or is computed from it, so the model can neither use it nor give it as a reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from warehouse.ingestion.contract import COLUMN_TYPES, TEXT
from warehouse.paths import DBT_PROJECT_DIR

CATALOG_FILE = DBT_PROJECT_DIR / "seeds" / "feature_catalog.csv"
ONE_HOT_SEPARATOR = "__"
UNSEEN_LEVEL = "unseen"
# Columns the raw file holds as text: a reason about them states the applicant's raw value.
CATEGORICAL_COLUMNS = frozenset(name.lower() for name, sql_type in COLUMN_TYPES.items() if sql_type == TEXT)


def source_column(feature: str) -> str:
    """The mart column a feature comes from: the part before `__` of a one-hot column."""
    return feature.split(ONE_HOT_SEPARATOR, 1)[0]


@dataclass(frozen=True)
class CatalogEntry:
    label: str
    value_format: str
    derived_from: tuple[str, ...] = ()
    reason_group: str | None = None  # the source column whose reason this one's contribution joins


@dataclass(frozen=True)
class FeatureCatalog:
    """Readable labels, value formats and derivations per source column (the dbt seed)."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)

    @classmethod
    def from_csv(cls, path: Path = CATALOG_FILE) -> FeatureCatalog:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return cls(
            {
                row["column_name"]: CatalogEntry(
                    row["label"],
                    row["value_format"],
                    tuple((row.get("derived_from") or "").split()),
                    row.get("reason_group") or None,
                )
                for row in rows
            }
        )

    def entry(self, source: str) -> CatalogEntry:
        """The catalogue's entry; a column it lacks is named as it is, so a new feature never breaks scoring."""
        return self.entries.get(source) or CatalogEntry(source, "text" if source in CATEGORICAL_COLUMNS else "decimal")

    def reason_source(self, feature: str) -> str:
        """The source column a feature's contribution is given under: its own, or the one it states a fact of."""
        source = source_column(feature)
        return self.entry(source).reason_group or source

    def label(self, source: str) -> str:
        return self.entry(source).label

    def feature_label(self, feature: str) -> str:
        """A one-hot column as `Contract type = cash_loans`; any other as its source column's label."""
        source = source_column(feature)
        if source == feature:
            return self.label(source)
        level = feature.split(ONE_HOT_SEPARATOR, 1)[1]
        return f"{self.label(source)} = {'a value never seen before' if level == UNSEEN_LEVEL else level}"

    def roots(self, source: str) -> set[str]:
        """The source column and every column it is computed from, recursively."""
        found, pending = set(), [source]
        while pending:
            column = pending.pop()
            if column not in found:
                found.add(column)
                pending.extend(self.entry(column).derived_from)
        return found


@cache
def default_catalog() -> FeatureCatalog:
    return FeatureCatalog.from_csv()


def excluded_features(
    features: list[str], protected: tuple[str, ...], catalog: FeatureCatalog | None = None
) -> list[str]:
    """The features that come from, or are computed from, a protected attribute."""
    catalog = catalog or default_catalog()
    protected_sources = {name.lower() for name in protected}
    return [feature for feature in features if catalog.roots(source_column(feature)) & protected_sources]


def model_features(
    candidates: list[str], protected: tuple[str, ...], catalog: FeatureCatalog | None = None
) -> list[str]:
    """The candidates a model may read: every one not excluded by a protected attribute, in order."""
    excluded = set(excluded_features(candidates, protected, catalog))
    return [feature for feature in candidates if feature not in excluded]
