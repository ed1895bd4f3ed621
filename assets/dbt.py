"""The dbt project as assets: staging and the feature mart; dbt tests become asset checks."""

from typing import Any, Mapping

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
    get_asset_key_for_model,
)

from assets.resources import WarehouseResource, dbt_project


class CreditDbtTranslator(DagsterDbtTranslator):
    """dbt's folders become Dagster groups (staging, marts)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "features"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    # Source tests check the raw load asset, so they surface as its checks too.
    dagster_dbt_translator=CreditDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
    pool="warehouse",
)
def credit_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Builds and tests the dbt models on the warehouse."""
    warehouse.export_for_dbt()
    yield from dbt.cli(["build"], context=context).stream()


APPLICATION_FEATURES = get_asset_key_for_model([credit_dbt_models], "fct_application_features")
