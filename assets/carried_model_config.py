"""The model config of a run the daemon launches: the one the latest model up to its month was trained with.

A team that trains a month's model with its own choices (the launchpad's config, `credit run
--trials`) validates the model those choices give. The runs that follow without a person (the
next month's model trained ahead, a month file's run that trains, the schedule's) train the
same way, not under the code's defaults because nobody was there to type the config again.
Only what that run's config gave is carried; a field it left out keeps the default of the code
that runs, and a field this code no longer has is dropped, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from assets.asset_keys import CREDIT_DEFAULT_MODEL
from assets.model_training import ModelConfig
from assets.partitions import partition_key, partition_month
from warehouse.ingestion.delivery_names import DeliveryNameError

CONFIG_FROM_TAG = "credit/model_config_from"  # the run whose model config a launched run carries


@dataclass(frozen=True)
class CarriedConfig:
    config: dict  # credit_default_model's op config; empty when there is none to carry
    from_run: str | None  # the run that trained the model it is taken from
    dropped: tuple[str, ...] = ()  # fields that run gave which this code's ModelConfig no longer has

    def run_config(self) -> dict:
        return {"ops": {CREDIT_DEFAULT_MODEL.path[-1]: {"config": self.config}}} if self.config else {}

    def tags(self) -> dict[str, str]:
        return {CONFIG_FROM_TAG: self.from_run} if self.config and self.from_run else {}

    def describe(self) -> str:
        if not self.config:
            return "model config: the defaults (no earlier model was trained with a config of its own)"
        given = ", ".join(f"{name}={value!r}" for name, value in sorted(self.config.items()))
        dropped = f"; dropped, no longer a field: {', '.join(self.dropped)}" if self.dropped else ""
        return f"model config carried from run {self.from_run}: {given}{dropped}"


def carried_model_config(instance: dg.DagsterInstance, month: date) -> CarriedConfig:
    """The op config of the run that materialised the latest model of a month up to `month`."""
    months = []
    for key in instance.get_materialized_partitions(CREDIT_DEFAULT_MODEL):
        try:
            months.append(partition_month(key))
        except DeliveryNameError:
            continue  # not a month partition of this project
    earlier = [model_month for model_month in months if model_month <= month]
    if not earlier:
        return CarriedConfig({}, None)
    latest = dg.AssetRecordsFilter(asset_key=CREDIT_DEFAULT_MODEL, asset_partitions=[partition_key(max(earlier))])
    [record] = instance.fetch_materializations(latest, limit=1).records
    run = instance.get_run_by_id(record.run_id) if record.run_id else None
    if run is None:
        return CarriedConfig({}, None)  # reported without a run: no config to carry
    given = run.run_config.get("ops", {}).get(CREDIT_DEFAULT_MODEL.path[-1], {}).get("config", {})
    known = set(ModelConfig.model_fields)
    config = {name: value for name, value in given.items() if name in known}
    return CarriedConfig(config, run.run_id, tuple(sorted(set(given) - known)))
