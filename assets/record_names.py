"""Names under which Dagster records a month: the asset keys other code looks up, and the month's run tag.

Plain strings, so `credit status` reads the instance's records without importing dagster
(assets/run_records.py); assets/asset_keys.py makes Dagster's keys of them.
"""

RAW_APPLICATIONS = "raw_applications"
RAW_OUTCOMES = "raw_outcomes"
MONTHLY_OUTBOX = "monthly_outbox"  # once it is materialised, the month's scores are out
CREDIT_DEFAULT_MODEL = "credit_default_model"  # once it is materialised, the month's model is ready
TRAINING_SET = "training_set"
# Jobs: the month's run, with or without training its model first, and its model trained ahead.
MONTHLY_PIPELINE = "monthly_pipeline"
SCORE_MONTH = "score_month"
TRAIN_AHEAD = "train_ahead"
INPUTS_VERSION = "inputs_version"  # training_set metadata: the versions of the deliveries it read
PARTITION_TAG = "dagster/partition"  # Dagster's tag of a partitioned run: the month's partition key
MODEL_CONFIG_FROM_TAG = "credit/model_config_from"  # a run that trains: the run whose model config it carries
MODEL_CONFIG_CARRIED_TAG = "credit/model_config_carried"  # ... and what it carried, or why nothing
