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
    names = [column["name"] for column in model["columns"]]
    # one-hot columns (`column__level`) too: some models treat them apart
    linted = names[:COLUMNS_LINTED] + [name for name in names if "__" in name][:3]
    return [SimpleNamespace(name=name) for name in dict.fromkeys(linted)]


def _dispatch(macro_name, macro_namespace=None):
    """A macro dispatched on the adapter (`macros/engine_sql.sql`) renders as a call of its name: the linter reads
    the model around it; each engine's form is checked by building it (tests/system/test_spark_month.py)."""

    def render(*arguments):
        # a list is of SQL expressions; a string is SQL too, except the template of `format_message`
        return f"{macro_name}({', '.join(_argument(argument, macro_name) for argument in arguments)})"

    return render


def _argument(argument, macro_name):
    if isinstance(argument, list):
        return ", ".join(argument)
    return f"'{argument}'" if macro_name == "format_message" else str(argument)


execute = True
adapter = SimpleNamespace(get_columns_in_relation=_contract_columns, dispatch=_dispatch)
dbt = SimpleNamespace(
    type_string=lambda: "varchar",
    split_part=lambda text, delimiter, part: f"split_part({text}, {delimiter}, {part})",
)
modules = SimpleNamespace(re=re)
# Linted as the default target renders it; the `spark` target differs in configs and dispatched macros.
target = SimpleNamespace(type="duckdb", name="duckdb")
