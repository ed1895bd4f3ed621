"""The training budget and seed of a run that trains: those the latest model up to its month was trained with.

A team that trains a month's model with its own budget or seed (the launchpad's config, `credit
run --trials`) validates the model they give. The runs that follow (the next month's model
trained ahead by the daemon or by `credit run`, a month file's run that trains, the schedule's,
`credit train`) train the same way, not under the code's defaults because nobody typed the
config again. Only the training budget and seed are carried, and only what that run's config
gave: the promotion tolerance and the protected attributes are governance, taken every time
from the code and dbt_project.yml's policy, so a one-off gate setting never outlives its run.
A carried config the code of today rejects is not carried; the run's tags say what was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from assets.asset_keys import CREDIT_DEFAULT_MODEL
from assets.model_readiness import latest_materialisation
from assets.model_training import ModelConfig
from assets.partitions import partition_month
from assets.record_names import CREDIT_DEFAULT_MODEL as MODEL_STEP
from assets.record_names import MODEL_CONFIG_CARRIED_TAG, MODEL_CONFIG_FROM_TAG
from warehouse.ingestion.delivery_names import DeliveryNameError

CARRIED_FIELDS = ("n_trials", "timeout_seconds", "tuning_rows", "seed")


@dataclass(frozen=True)
class CarriedConfig:
    config: dict  # the model step's fields carried; empty when there are none
    from_run: str | None  # the run that trained the model they come from
    note: str  # what was carried, left or refused, in a line

    def under(self, given: dict) -> dict:
        """The model step's config: `given` (a caller's own choices) over the carried fields."""
        return {**self.config, **given}

    def run_config(self) -> dict:
        return {"ops": {MODEL_STEP: {"config": self.config}}} if self.config else {}

    def tags(self) -> dict[str, str]:
        return {MODEL_CONFIG_FROM_TAG: self.from_run, MODEL_CONFIG_CARRIED_TAG: self.note} if self.from_run else {}


def model_config_of(run_config: dict) -> dict:
    """The model step's config in a run config (empty when it gives none)."""
    return run_config.get("ops", {}).get(MODEL_STEP, {}).get("config", {})


def carried_model_config(instance: dg.DagsterInstance, month: date) -> CarriedConfig:
    """The carried fields of the run that trained the latest model of a month up to `month` (recorded with a run)."""
    months = []
    for key in instance.get_materialized_partitions(CREDIT_DEFAULT_MODEL):
        try:
            months.append(partition_month(key))
        except DeliveryNameError:
            continue  # not a month partition of this project
    for model_month in sorted((m for m in months if m <= month), reverse=True):
        record = latest_materialisation(instance, CREDIT_DEFAULT_MODEL, model_month)
        run = instance.get_run_by_id(record.run_id) if record is not None and record.run_id else None
        if run is not None:  # else reported without a run: an earlier month's run may say
            return _carried(model_config_of(run.run_config), run.run_id, model_month)
    return CarriedConfig({}, None, "defaults: no model up to this month was trained in a recorded run")


def _carried(given: dict, run_id: str, model_month: date) -> CarriedConfig:
    config = {name: given[name] for name in CARRIED_FIELDS if name in given}
    left = sorted(set(given) - set(CARRIED_FIELDS))
    try:
        ModelConfig(**config).training_config()  # as the run would check it: pydantic's, then TrainingConfig's
    except ValueError as error:
        refused = ", ".join(f"{name}={value!r}" for name, value in config.items())
        reason = str(error).splitlines()[0]
        return CarriedConfig({}, run_id, f"defaults: {refused} from {model_month:%Y-%m}'s model is refused ({reason})")
    carried = ", ".join(f"{name}={value!r}" for name, value in config.items()) or "nothing (it gave no budget or seed)"
    not_carried = f"; not carried: {', '.join(left)}" if left else ""
    return CarriedConfig(config, run_id, f"from {model_month:%Y-%m}'s model: {carried}{not_carried}")
