"""When an incremental dbt model is rebuilt whole: a checksum of its definition, from dbt's own manifest."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from assets.dbt_definitions import (
    built_from_another_definition,
    built_successfully,
    changed_definitions,
    definition_checksum,
    incremental_models,
)
from assets.dbt_models import MANIFEST
from warehouse.database import connect
from warehouse.model_definitions import forget_definitions, record_definitions, recorded_definitions
from warehouse.paths import DataPaths

FEATURES = "model.credit_default.fct_application_features"
DRIFT = "model.credit_default.drift"


def _edited(change) -> dict:
    manifest = copy.deepcopy(MANIFEST)
    change(manifest)
    return manifest


def _set_checksum(unique_id: str):
    def change(manifest):
        manifest["nodes"][unique_id]["checksum"]["checksum"] = "edited"

    return change


def _set_macro(unique_id: str):
    def change(manifest):
        manifest["macros"][unique_id]["macro_sql"] += "\n-- edited"

    return change


def _set_column_type(manifest):
    manifest["nodes"][FEATURES]["columns"]["amt_credit"]["data_type"] = "decimal(18, 2)"


def _set_unique_key(manifest):
    manifest["nodes"][FEATURES]["config"]["unique_key"] = "sk_id_curr"


def _upgrade_dbt(manifest):
    manifest["metadata"]["dbt_version"] = "9.9.9"


@pytest.mark.parametrize(
    "change",
    [
        _set_checksum(FEATURES),  # the model's own SQL
        _set_checksum("model.credit_default.stg_home_credit__applications"),  # the staging it reads
        _set_macro("macro.credit_default.null_markers"),  # a macro only staging calls
        _set_macro("macro.credit_default.one_hot_levels"),  # a macro called through another one
        _set_column_type,  # its contract
        _set_unique_key,  # its config
        _upgrade_dbt,  # dbt's own materialisations
    ],
    ids=["its SQL", "staging", "staging's macro", "a macro's macro", "its contract", "its config", "dbt"],
)
def test_the_feature_marts_definition_changes_with_anything_that_computes_its_rows(change):
    assert definition_checksum(_edited(change), FEATURES) != definition_checksum(MANIFEST, FEATURES)


def test_a_model_downstream_or_beside_it_leaves_the_feature_marts_definition_as_it_was():
    for unrelated in (DRIFT, "model.credit_default.fct_application_labels", "model.credit_default.fairness"):
        edited = _edited(_set_checksum(unrelated))
        assert definition_checksum(edited, FEATURES) == definition_checksum(MANIFEST, FEATURES), unrelated
    assert definition_checksum(_edited(_set_checksum(FEATURES)), DRIFT) != definition_checksum(MANIFEST, DRIFT), (
        "drift reads the feature mart, so a change there is a change of drift"
    )


def test_the_incremental_models_are_the_feature_mart_and_drift_and_a_change_is_found_against_the_record():
    current = incremental_models(MANIFEST, MANIFEST["nodes"])
    assert set(current) == {FEATURES, DRIFT}
    assert changed_definitions(current, {}) == sorted(current), "never recorded: rebuilt whole"
    assert changed_definitions(current, dict(current)) == []
    assert changed_definitions(current, {**current, FEATURES: "older"}) == [FEATURES]


def test_only_what_dbt_built_is_recorded_and_a_record_replaces_the_last(tmp_path):
    assert built_successfully(
        {"results": [{"unique_id": FEATURES, "status": "success"}, {"unique_id": DRIFT, "status": "error"}]}
    ) == {FEATURES}
    paths = DataPaths(tmp_path).create()
    with connect(paths.warehouse) as connection:
        assert recorded_definitions(connection) == {}
        record_definitions(connection, {FEATURES: "a", DRIFT: "b"}, built_at=datetime(2021, 1, 1))
        record_definitions(connection, {FEATURES: "c"}, built_at=datetime(2021, 2, 1))
        assert recorded_definitions(connection) == {FEATURES: "c", DRIFT: "b"}
        forget_definitions(connection, [DRIFT])
        assert recorded_definitions(connection) == {FEATURES: "c"}


def test_a_build_from_another_parse_than_the_one_decided_on_is_found():
    decided = incremental_models(MANIFEST, MANIFEST["nodes"])
    assert built_from_another_definition(decided, MANIFEST, MANIFEST["nodes"]) == []
    edited = _edited(_set_macro("macro.credit_default.null_markers"))  # staging edited since `make setup`
    assert built_from_another_definition(decided, edited, MANIFEST["nodes"]) == sorted([FEATURES, DRIFT])
    labels = "model.credit_default.fct_application_labels"

    def _made_incremental(manifest):
        manifest["nodes"][labels]["config"]["materialized"] = "incremental"

    made_incremental = _edited(_made_incremental)  # a table in the loaded parse, incremental in dbt's own
    assert built_from_another_definition(decided, made_incremental, MANIFEST["nodes"]) == [labels]


def _reachable(unique_id: str, found: set[str]) -> set[str]:
    if unique_id in found:
        return found
    found.add(unique_id)
    node = MANIFEST["nodes"].get(unique_id) or MANIFEST["macros"].get(unique_id)
    for child in [*node["depends_on"].get("nodes", []), *node["depends_on"].get("macros", [])] if node else []:
        _reachable(child, found)
    return found


def test_no_incremental_model_reads_a_dbt_var_which_its_checksum_leaves_out():
    for model in incremental_models(MANIFEST, MANIFEST["nodes"]):
        for unique_id in _reachable(model, set()):
            code = MANIFEST["nodes"].get(unique_id) or MANIFEST["macros"].get(unique_id) or {}
            text = code.get("raw_code") or code.get("macro_sql") or ""
            assert "var(" not in text, f"{unique_id}, read by {model}, reads a var: add the vars to the checksum"
