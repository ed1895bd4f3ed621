"""The feature catalogue: every source column of the mart has a label."""

from __future__ import annotations

from ml.dataset import BUILD_COLUMNS
from ml.features import FeatureCatalog, source_column
from warehouse.database import connect


def test_the_catalogue_labels_every_source_column_of_the_mart(built_warehouse):
    catalog = FeatureCatalog.from_csv()
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        columns = [row[0] for row in connection.execute("describe marts.fct_application_features").fetchall()]
    keys = {"sk_id_curr", "application_month", "is_history", *BUILD_COLUMNS}
    sources = {source_column(name) for name in columns} - keys
    assert sources == set(catalog.entries), "every source column, and nothing else, has a readable label"
    assert len({entry.label for entry in catalog.entries.values()}) == len(catalog.entries)
    assert catalog.feature_label("name_contract_type__unseen") == "Contract type = a value never seen before"
