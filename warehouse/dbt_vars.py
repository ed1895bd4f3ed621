"""The vars of `dbt_project/dbt_project.yml`: settings the dbt models use that Python needs too.

Read from the file, not asked of dbt, so the model step, the launchpad, the checks' texts
and the month report's charts have them without starting dbt. Each is set in that file only.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from warehouse.paths import DBT_PROJECT_DIR

# The lines the monitoring warnings are drawn at; the model `monitoring_warnings` decides with them.
DRIFT_PSI_WARNING_VAR = "drift_psi_warning"
FAIRNESS_APPROVAL_RATIO_WARNING_VAR = "fairness_approval_ratio_warning"
PERFORMANCE_AUC_DROP_WARNING_VAR = "performance_auc_drop_warning"


@cache
def _dbt_vars() -> dict[str, Any]:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project.get("vars") or {}


def dbt_var(name: str) -> Any:
    """The value dbt_project.yml gives the var; a var it does not set is an error, not a silent default."""
    try:
        return _dbt_vars()[name]
    except KeyError:
        raise KeyError(f"dbt_project.yml sets no var {name!r}") from None
