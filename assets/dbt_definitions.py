"""When an incremental dbt model is rebuilt whole: its definition changed since the build it holds.

An incremental model (the feature mart, drift) computes only what is new: the deliveries loaded
since its last build, the months scored since. If its SQL, the models it reads, a macro they call,
its config or contract, or the versions of dbt and DuckDB changed in between, the rows already
there were built the old way, and a model would train on two definitions of the same feature.
So a build compares each incremental model's definition checksum with the one recorded after
its last build (`raw.model_definitions`) and runs with `--full-refresh` when any differs or
none is recorded. (Rows are compared by delivery load, so a change to `raw.applications` made
outside the loader is not seen: the loader is the only writer of the raw tables.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from typing import Any

# The adapter and the engine behind each dbt adapter type the project is parsed for.
ENGINE_PACKAGES = {"duckdb": ("dbt-duckdb", "duckdb"), "spark": ("dbt-spark", "pyspark")}


def engine_versions(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The versions a model's rows also depend on: dbt's (its materialisations), the adapter's and the engine's."""
    packages = ENGINE_PACKAGES[manifest["metadata"].get("adapter_type", "duckdb")]
    return {"dbt": manifest["metadata"]["dbt_version"], **{package: version(package) for package in packages}}


def definition_checksum(manifest: Mapping[str, Any], unique_id: str) -> str:
    """A sha256 of everything a dbt model's rows are computed by, from dbt's parsed manifest.

    The file and config of the model and of every model or seed it reads (the rows of sources are
    data, not definition), every macro they call, the column types of each contract on the way,
    and the versions of dbt, its adapter and the engine (DuckDB, or Spark). Not dbt vars: no incremental model
    reads one (a test says so).
    """
    nodes, macros = manifest["nodes"], manifest["macros"]
    parts: dict[str, Any] = {"versions": engine_versions(manifest)}

    def visit(key: str) -> None:
        if key in parts:
            return
        if key in macros:
            parts[key] = macros[key]["macro_sql"]
            children = macros[key]["depends_on"]["macros"]
        elif key in nodes:
            node = nodes[key]
            contract = node.get("config", {}).get("contract", {}).get("enforced")
            columns = {name: column.get("data_type") for name, column in node.get("columns", {}).items()}
            parts[key] = [node["checksum"]["checksum"], node.get("config"), columns if contract else None]
            children = [*node["depends_on"]["nodes"], *node["depends_on"].get("macros", [])]
        else:
            return
        for child in children:
            visit(child)

    visit(unique_id)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def incremental_models(manifest: Mapping[str, Any], unique_ids: Iterable[str]) -> dict[str, str]:
    """The definition checksum of each incremental model among `unique_ids`."""
    return {
        unique_id: definition_checksum(manifest, unique_id)
        for unique_id in sorted(unique_ids)
        if manifest["nodes"].get(unique_id, {}).get("config", {}).get("materialized") == "incremental"
    }


def changed_definitions(current: Mapping[str, str], recorded: Mapping[str, str]) -> list[str]:
    """The models whose definition is not the one recorded at their last build (or was never recorded)."""
    return [unique_id for unique_id, checksum in current.items() if recorded.get(unique_id) != checksum]


def built_from_another_definition(
    decided: Mapping[str, str], built_manifest: Mapping[str, Any], selected: Iterable[str]
) -> list[str]:
    """The models whose definition in the manifest dbt built from is not the one the build was decided on.

    Over the build's `selected` models, so one that became incremental only in dbt's own parse counts too.
    """
    built = incremental_models(built_manifest, selected)
    return sorted(unique_id for unique_id in {*decided, *built} if built.get(unique_id) != decided.get(unique_id))


def built_successfully(run_results: Mapping[str, Any]) -> set[str]:
    """The nodes dbt's run_results.json reports built (a model's status `success`)."""
    return {result["unique_id"] for result in run_results.get("results", []) if result.get("status") == "success"}
