"""Keys of the assets that code outside their definitions looks up in Dagster's records.

Plain constants, so `credit status` can read the instance without building the assets
(the dbt manifest, the model libraries).
"""

from __future__ import annotations

import dagster as dg

RAW_APPLICATIONS = dg.AssetKey("raw_applications")
RAW_OUTCOMES = dg.AssetKey("raw_outcomes")
MONTHLY_OUTBOX = dg.AssetKey("monthly_outbox")  # the last step of a month: once it is materialised, the scores are out
