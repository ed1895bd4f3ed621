"""The one setting that chooses where the warehouse's tables live: `$CREDIT_ENGINE`.

`duckdb` (the default) or `spark`. Read here, without importing either engine, so a command
that only asks which one (`credit status`) stays quick; the engines are in `assets/engines.py`.
"""

from __future__ import annotations

import os

ENGINE_VARIABLE = "CREDIT_ENGINE"
DEFAULT_ENGINE = "duckdb"
ENGINES = (DEFAULT_ENGINE, "spark")


def engine_name(environment: dict[str, str] | None = None) -> str:
    """`$CREDIT_ENGINE`, checked: `duckdb` (the default) or `spark`."""
    name = (environment if environment is not None else os.environ).get(ENGINE_VARIABLE, DEFAULT_ENGINE)
    name = name.strip().lower()
    if name not in ENGINES:
        raise ValueError(f"{ENGINE_VARIABLE}={name!r}: the engines are {', '.join(ENGINES)}")
    return name
