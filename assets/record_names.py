"""Names under which Dagster records a month: the asset keys other code looks up, and the month's run tag.

Plain strings, so `credit status` reads the instance's records without importing dagster
(assets/run_records.py); assets/asset_keys.py makes Dagster's keys of them.
"""

RAW_APPLICATIONS = "raw_applications"
RAW_OUTCOMES = "raw_outcomes"
MONTHLY_OUTBOX = "monthly_outbox"  # the last step of a month: once it is materialised, the scores are out
PARTITION_TAG = "dagster/partition"  # Dagster's tag of a partitioned run: the month's partition key
