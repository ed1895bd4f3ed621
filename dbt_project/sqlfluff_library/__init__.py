"""Stand-ins for the parts of dbt's jinja context the models use, so that sqlfluff's jinja
templater renders them without a database or a dbt compile (`make lint`).

Values come from the project itself (its vars, the feature mart's contract), never copies.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import yaml

PROJECT = Path(__file__).resolve().parents[1]
FEATURE_CONTRACT = PROJECT / "models" / "marts" / "fct_application_features.yml"

_vars = yaml.safe_load((PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


def var(name, default=None):
    return _vars.get(name, default)


# A model's loop over the mart's columns renders the same SQL for each column, so a few of them
# lint what all 260 would, in a fraction of the time.
COLUMNS_LINTED = 12


def _contract_columns(relation):
    [model] = yaml.safe_load(FEATURE_CONTRACT.read_text(encoding="utf-8"))["models"]
    return [SimpleNamespace(name=column["name"]) for column in model["columns"][:COLUMNS_LINTED]]


execute = True
adapter = SimpleNamespace(get_columns_in_relation=_contract_columns)
dbt = SimpleNamespace(type_string=lambda: "varchar")
modules = SimpleNamespace(re=re)
# Linted as the default target renders it; the `spark` target differs only in configs.
target = SimpleNamespace(type="duckdb", name="duckdb")
