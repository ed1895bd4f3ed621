"""The model's launchpad config: every field explained, and `ml`'s training config derived from it."""

from __future__ import annotations

from dataclasses import replace

from assets.model_training import ModelConfig, credit_default_model
from ml.training_config import TrainingConfig


def test_the_launchpad_explains_every_field_of_the_model_config():
    fields = credit_default_model.op.config_schema.config_type.fields
    assert set(fields) == set(ModelConfig.model_fields)
    assert all(field.description for field in fields.values())


def test_the_training_config_takes_the_launchpad_values_and_ml_defaults_for_the_rest():
    assert ModelConfig().training_config() == TrainingConfig()
    launchpad_values = {"n_trials": 2, "tuning_rows": 8_000, "seed": 5}
    protected = ["code_gender", "NAME_FAMILY_STATUS", "FLAG_OWN_CAR"]
    config = ModelConfig(**launchpad_values, protected_attributes=protected)
    upper_case = tuple(name.upper() for name in protected)
    expected = replace(TrainingConfig(), **launchpad_values, protected_attributes=upper_case)
    assert config.training_config() == expected
