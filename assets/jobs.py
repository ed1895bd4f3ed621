"""The monthly job: load, features, training set, model, predictions for one month."""

from __future__ import annotations

import dagster as dg

# Partitioned by month through its assets; the dbt models in it are unpartitioned and rebuild whole.

monthly_pipeline = dg.define_asset_job(
    "monthly_pipeline",
    selection=dg.AssetSelection.all(),
    description="Everything for one application month, from the inbox file to marts.predictions and the outbox CSV.",
)
