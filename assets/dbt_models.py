"""The dbt project as assets: staging, the feature mart and the labels; dbt tests become asset checks."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
    get_asset_key_for_model,
)

from assets.asset_keys import MONTHLY_OUTBOX
from assets.dbt_definitions import (
    built_from_another_definition,
    built_successfully,
    changed_definitions,
    incremental_models,
)
from assets.dbt_project import dbt_project, engine_folder
from assets.jobs import not_retried
from assets.partitions import month_by_month, monthly_partitions
from assets.raw_deliveries import MONTH_DELIVERIES
from assets.resources import WarehouseResource
from ml.registry import baselines_from_training_set, record_feature_baselines, versions_without_baselines
from warehouse.database import connect, transaction
from warehouse.fair_lending import PROTECTED_ATTRIBUTES_VAR, protected_attributes, validated_attributes
from warehouse.model_definitions import forget_definitions, record_definitions, recorded_definitions


def _sources_read_through_views(manifest: Mapping[str, Any], unique_id: str) -> set[str]:
    """The sources a model reads, looking through views (a view stores nothing of its own)."""
    found = set()
    for parent in manifest["nodes"][unique_id]["depends_on"]["nodes"]:
        if parent.startswith("source."):
            found.add(parent)
        elif manifest["nodes"].get(parent, {}).get("config", {}).get("materialized") == "view":
            found |= _sources_read_through_views(manifest, parent)
    return found


MONITORING_TAG = "monitoring"  # dbt_project.yml tags the models/monitoring folder


class CreditDbtTranslator(DagsterDbtTranslator):
    """dbt's folders become Dagster groups.

    Tables depend on the raw data they read, and monitoring models on the month's deliveries.
    """

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "features"

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = manifest["nodes"].get(unique_id)
        if not props:
            return spec
        added = []
        if props.get("config", {}).get("materialized") in ("table", "incremental"):
            # A table built over staging views reads the raw tables themselves. Saying so lets
            # Dagster mark the table stale as soon as a raw delivery is replaced (its staleness
            # looks one edge up, and a view has no data version of its own to change).
            added += [
                super(CreditDbtTranslator, self).get_asset_spec(manifest, source, project).key
                for source in sorted(_sources_read_through_views(manifest, unique_id))
            ]
        if MONITORING_TAG in props.get("tags", []):
            # Like every month asset: a replaced delivery of M makes M's monitoring stale too.
            added += list(MONTH_DELIVERIES)
            # After the outbox: the time to a month's scores is the time to its outbox file, and
            # monitoring and the BI copy, which read the same scores, follow it.
            added.append(MONTHLY_OUTBOX)
        known = {dep.asset_key for dep in spec.deps}
        return spec.merge_attributes(deps=[key for key in dict.fromkeys(added) if key not in known])


def parsed_manifest(path: Path) -> dict[str, Any]:
    """The manifest `make setup` or `dagster dev` parsed; a checkout never parsed fails here, saying how to parse it."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `make setup` first, which parses the dbt project")
    return json.loads(path.read_text(encoding="utf-8"))


def sources_no_model_reads(manifest: Mapping[str, Any]) -> list[str]:
    """dbt selectors of the sources declared for their docs and tests only (the load ledger).

    dagster-dbt makes asset checks of a source's tests only where a model reads the source. Left
    in dbt's selection, the tests of the others still run, and Dagster can only log each as an
    `AssetObservation`, with a warning, in every month. Plain `dbt build` (`make test`) runs them.
    """
    read = {
        parent
        for node in manifest["nodes"].values()
        if node["resource_type"] != "test"
        for parent in node.get("depends_on", {}).get("nodes", [])
    }
    return sorted(
        f"source:{source['source_name']}.{source['name']}"
        for unique_id, source in manifest["sources"].items()
        if unique_id not in read
    )


MANIFEST = parsed_manifest(dbt_project.manifest_path)
# Two sources may be one asset: the model step writes both the registry and its feature baselines.
TRANSLATOR = CreditDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True, enable_duplicate_source_asset_keys=True)
)
# The monitoring models read the month's predictions, so they build in a step of their own after scoring.
MONITORING = f"tag:{MONITORING_TAG}"


DBT_ASSET_OPTIONS = dict(
    manifest=MANIFEST,
    project=dbt_project,
    # Monthly like everything around them: `dbt build` rebuilds the whole tables, and
    # partition M records that month's run did so from month M's deliveries. That is
    # what lets a replaced delivery of M show M's features, model and scores as stale.
    partitions_def=monthly_partitions,
    backfill_policy=month_by_month,
    # Source tests check the raw load asset, so they surface as its checks too.
    dagster_dbt_translator=TRANSLATOR,
    pool="warehouse",
)


PRODUCTION_BUILD = ["build", "--exclude-resource-type", "unit_test"]


def monitoring_vars(model_attributes: list[str]) -> list[str]:
    """dbt `--vars` for the monitoring build: fairness covers every attribute a model that scored was kept blind to.

    `model_attributes` are the registry's comma-separated lists; dbt_project.yml's default is always included,
    so an attribute an operator protected in the launchpad is monitored too.
    """
    names = [*protected_attributes(), *(name for listed in model_attributes for name in listed.split(",") if name)]
    return ["--vars", json.dumps({PROTECTED_ATTRIBUTES_VAR: list(validated_attributes(names))})]


def _scoring_models_attributes(warehouse: WarehouseResource, scored: list[str]) -> list[str]:
    with connect(warehouse.paths.warehouse, read_only=True) as connection:
        return [
            row[0]
            for row in connection.execute(
                "select distinct excluded_attributes from scoring.model_registry where list_contains(?, version)",
                [scored],
            ).fetchall()
        ]


def _models_in_build(monitoring: bool) -> list[str]:
    """The dbt models one of the two builds selects: the monitoring models, or every other one."""
    return [
        unique_id
        for unique_id, node in MANIFEST["nodes"].items()
        if node["resource_type"] == "model" and (MONITORING_TAG in node.get("tags", [])) == monitoring
    ]


def _names(unique_ids: list[str]) -> str:
    return ", ".join(unique_id.rsplit(".", 1)[-1] for unique_id in unique_ids)


def _artifact(invocation, name: str) -> dict | None:
    """One of dbt's artifacts of this invocation, or None when dbt failed before writing it."""
    try:
        return invocation.get_artifact(name)
    except FileNotFoundError:
        return None


DRIFT_MODEL = "model.credit_default.drift"


def _backfill_feature_baselines(context, warehouse: WarehouseResource, scored: list[str]) -> None:
    """A model that scored a month and was registered before feature baselines were (2026-12) gets them now.

    Binned outside the warehouse's lock; when any is recorded, drift is rebuilt whole (its recorded
    definition forgotten), so the months it scored are measured, not only the months scored next.
    """
    paths = warehouse.paths
    with connect(paths.warehouse, read_only=True) as connection:
        missing = versions_without_baselines(connection, scored)
    found = {}
    for version in missing:
        try:
            baselines, outcome = baselines_from_training_set(paths.models, paths.training_sets, version)
        except Exception as error:  # noqa: BLE001 - best effort: monitoring goes on, the month's warnings say it
            baselines, outcome = None, f"no baseline: {type(error).__name__}: {error}"
        (context.log.info if baselines is not None else context.log.warning)(
            f"feature baseline of {version}: {outcome}"
        )
        if baselines is not None:
            found[version] = baselines
    if found:
        with connect(paths.warehouse) as connection:
            # Forgotten first: cut short after it, the next build bins them again and forgets it again.
            forget_definitions(connection, [DRIFT_MODEL])
            with transaction(connection):
                for version, baselines in found.items():
                    record_feature_baselines(connection, version, baselines)


def _dbt_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    build: str,
    extra: list[str] = (),
):
    warehouse.export_for_dbt()
    engine = warehouse.warehouse_engine()  # on Spark, the session dbt-spark's `session` method joins
    # Incremental models compute only what is new; one whose definition changed since its last
    # build is rebuilt whole, so none of its rows is left computed the old way (assets/dbt_definitions.py).
    models = _models_in_build(monitoring=build == "monitoring")
    definitions = incremental_models(MANIFEST, models)
    with connect(warehouse.paths.warehouse) as connection:
        changed = changed_definitions(definitions, recorded_definitions(connection))
        # Forgotten before dbt starts: if the build fails after rebuilding a model, or is rolled
        # back to the old definition, no record can match again, and the next build is whole too.
        forget_definitions(connection, changed)
    if changed:
        context.log.info(
            f"{_names(changed)}: definition new or changed since the last build: rebuilt whole (--full-refresh)"
        )
        extra = [*extra, "--full-refresh"]
    # One target folder per data directory and build, kept between runs. dbt's parse cache is
    # valid for one warehouse path (profiles.yml) and one set of `--vars`; the monitoring build
    # passes vars the feature build does not, so a shared folder made each build re-parse the
    # whole project (≈ 3 s) every month. Runs on one warehouse are serialised (pool), so they
    # never share a folder at once.
    # A failed model or test fails the same way again: reported at once, not retried.
    # Unit tests check the SQL's logic on fixed inputs, so they run in `make test` (which
    # runs the whole `dbt build`), not in every production month, as dbt's docs advise.
    with not_retried(DagsterDbtCliRuntimeError):
        invocation = dbt.cli(
            # The target is the project's (`assets/dbt_project.py`): the engine's, checked above.
            [*PRODUCTION_BUILD, *extra],
            context=context,
            target_path=warehouse.paths.dbt_target / engine_folder(build, engine.name),
        )
    succeeded = False
    try:
        with not_retried(DagsterDbtCliRuntimeError):
            yield from invocation.stream()
        succeeded = True
    finally:
        # Failed or not: a model built from another parse than the one decided on is rebuilt whole next.
        _record_definitions_built(warehouse, definitions, models, invocation, succeeded)


def _record_definitions_built(
    warehouse: WarehouseResource, definitions: dict[str, str], models: list[str], invocation, succeeded: bool
) -> None:
    """Record what each incremental model was just built from, as dbt itself parsed it.

    The decision to rebuild whole was taken on the manifest the definitions loaded. If dbt parsed
    another one (the project edited since `make setup`, definitions not reloaded), a model may have
    been built incrementally under a new definition: its record is dropped, so the next build is
    whole, and the step fails before anything scores from it. Only a build that succeeded records.
    """
    manifest = _artifact(invocation, "manifest.json")
    stale = built_from_another_definition(definitions, manifest, models) if manifest else sorted(definitions)
    built = built_successfully(invocation.get_artifact("run_results.json")) if succeeded else set()
    with connect(warehouse.paths.warehouse) as connection:
        forget_definitions(connection, stale)
        record_definitions(
            connection,
            {
                unique_id: definitions[unique_id]
                for unique_id in definitions
                if unique_id in built and unique_id not in stale
            },
            datetime.now(UTC).replace(tzinfo=None),
        )
    if stale and succeeded:
        raise dg.Failure(
            description=(
                f"{_names(stale)}: the dbt project changed since these definitions were loaded, so the build could not"
                " tell whether to rebuild it whole; run `make setup` (or reload the definitions in the UI) and"
                " run the month again: its next build is whole"
            ),
            allow_retries=False,
        )


@dbt_assets(**DBT_ASSET_OPTIONS, exclude=" ".join([MONITORING, *sources_no_model_reads(MANIFEST)]))
def credit_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Builds and tests the dbt models on the warehouse."""
    yield from _dbt_build(context, dbt, warehouse, "features")


@dbt_assets(**DBT_ASSET_OPTIONS, select=MONITORING)
def credit_dbt_monitoring(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Drift, fairness and realised performance of the scores, and every monitoring warning.

    Built in dbt, in schema `monitoring`.
    """
    engine = warehouse.warehouse_engine()
    scored = engine.scored_model_versions()  # once: a query of every month's scores (a Spark job on Spark)
    _backfill_feature_baselines(context, warehouse, scored)
    # The monitoring models read the registry where they run: the DuckDB file's, published there.
    engine.publish_registry()
    attributes = _scoring_models_attributes(warehouse, scored)
    yield from _dbt_build(context, dbt, warehouse, "monitoring", monitoring_vars(attributes))


APPLICATION_FEATURES = get_asset_key_for_model([credit_dbt_models], "fct_application_features")
APPLICATION_LABELS = get_asset_key_for_model([credit_dbt_models], "fct_application_labels")
DRIFT = get_asset_key_for_model([credit_dbt_monitoring], "drift")
FAIRNESS = get_asset_key_for_model([credit_dbt_monitoring], "fairness")
PERFORMANCE = get_asset_key_for_model([credit_dbt_monitoring], "performance")
PERFORMANCE_BY_GRADE = get_asset_key_for_model([credit_dbt_monitoring], "performance_by_grade")
MONITORING_WARNINGS = get_asset_key_for_model([credit_dbt_monitoring], "monitoring_warnings")
MONITORING_MONTHS_EVALUATED = get_asset_key_for_model([credit_dbt_monitoring], "monitoring_months_evaluated")
UNSEEN_LEVELS = get_asset_key_for_model([credit_dbt_models], "unseen_levels")
