"""How the dbt project becomes assets: the parsed manifest, and what each dbt build selects."""

from __future__ import annotations

import pytest

from assets.dbt_models import parsed_manifest, sources_no_model_reads


def test_a_checkout_never_parsed_fails_to_load_and_says_how_to_parse(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make setup`"):
        parsed_manifest(tmp_path / "target" / "manifest.json")


def test_sources_no_model_reads_are_left_out_of_the_build():
    manifest = {
        "sources": {
            "source.p.raw.applications": {"source_name": "raw", "name": "applications"},
            "source.p.raw.load_ledger": {"source_name": "raw", "name": "load_ledger"},
        },
        "nodes": {
            "model.p.stg": {"resource_type": "model", "depends_on": {"nodes": ["source.p.raw.applications"]}},
            "test.p.accepted_values_ledger": {
                "resource_type": "test",
                "depends_on": {"nodes": ["source.p.raw.load_ledger"]},
            },
            "seed.p.levels": {"resource_type": "seed", "depends_on": {"macros": []}},
        },
    }
    assert sources_no_model_reads(manifest) == ["source:raw.load_ledger"]
