"""Keys of the assets that code outside their definitions looks up in Dagster's records."""

from __future__ import annotations

import dagster as dg

from assets import record_names

RAW_APPLICATIONS = dg.AssetKey(record_names.RAW_APPLICATIONS)
RAW_OUTCOMES = dg.AssetKey(record_names.RAW_OUTCOMES)
MONTHLY_OUTBOX = dg.AssetKey(record_names.MONTHLY_OUTBOX)
CREDIT_DEFAULT_MODEL = dg.AssetKey(record_names.CREDIT_DEFAULT_MODEL)
TRAINING_SET = dg.AssetKey(record_names.TRAINING_SET)
