"""The fair-lending policy, configured once in `dbt_project/dbt_project.yml` (its `vars`).

dbt's fairness mart reads the same vars, so the attributes the model may never see are the
attributes fairness is measured on.
"""

from __future__ import annotations

from warehouse.dbt_vars import dbt_var
from warehouse.ingestion.contract import COLUMN_NAMES

PROTECTED_ATTRIBUTES_VAR = "protected_attributes"


def validated_attributes(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Contract column names, upper case, each once; an unknown name is an error, not a silent no-op."""
    attributes = tuple(dict.fromkeys(str(name).strip().upper() for name in names))
    unknown = [name for name in attributes if name not in COLUMN_NAMES]
    if unknown:
        raise ValueError(f"protected attributes must be columns of the raw-file contract; unknown: {unknown}")
    return attributes


def protected_attributes() -> tuple[str, ...]:
    """Columns that never reach a model's features, tuning or reasons (default CODE_GENDER, NAME_FAMILY_STATUS)."""
    return validated_attributes(dbt_var(PROTECTED_ATTRIBUTES_VAR))


def require_policy(attributes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A model's list may protect more than the policy, never fewer: the launchpad cannot switch the policy off."""
    given = validated_attributes(attributes)
    dropped = [name for name in protected_attributes() if name not in given]
    if dropped:
        raise ValueError(
            f"the fair-lending policy (dbt_project.yml vars) protects {', '.join(dropped)}: "
            "a model may protect more attributes, never fewer"
        )
    return given
