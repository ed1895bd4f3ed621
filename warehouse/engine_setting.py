"""The one setting that chooses where the warehouse's tables live: `$CREDIT_ENGINE`.

`duckdb` (the default) or `spark`. Read here without the engines' own modules (scoring,
PySpark), so a command that only asks which one (`credit status`) stays quick; the engines
are in `assets/engines.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from warehouse.atomic_files import atomic_write_text
from warehouse.database import connect, has_table

ENGINE_VARIABLE = "CREDIT_ENGINE"
DEFAULT_ENGINE = "duckdb"
ENGINES = (DEFAULT_ENGINE, "spark")
ENGINE_FILE = "engine"  # in the data directory: the engine its tables are on
SPARK_FOLDER = "spark"  # in the data directory: Spark's tables and local metastore


def engine_name(environment: dict[str, str] | None = None) -> str:
    """`$CREDIT_ENGINE`, checked: `duckdb` (the default) or `spark`."""
    name = (environment if environment is not None else os.environ).get(ENGINE_VARIABLE, DEFAULT_ENGINE)
    name = name.strip().lower()
    if name not in ENGINES:
        raise ValueError(f"{ENGINE_VARIABLE}={name!r}: the engines are {', '.join(ENGINES)}")
    return name


class EngineUnavailable(RuntimeError):
    """The engine cannot start here (its packages or Java are missing): the same on a retry."""


class EngineMismatch(ValueError):
    """The data directory's tables are on another engine than the one asked for."""


def pin_engine(root: Path, warehouse: Path, name: str, record: bool = True) -> None:
    """Keep a data directory on the engine it was first used with (`root/engine`); refuse another.

    With `record` false, only refuses: the engine is recorded once it has started.

    The load ledger in the DuckDB file records the loads of either engine: on another engine
    than the one that made them, it would name as loaded deliveries whose rows are not there.
    Without the file, a data directory that holds Spark's folder was Spark's, and one whose
    ledger records loads was DuckDB's.
    """
    marker = root / ENGINE_FILE
    pinned = _recorded_engine(root)
    # DuckDB's loads need not be looked for when DuckDB is asked for (the file may be busy).
    if pinned is None and name != DEFAULT_ENGINE and _has_loads(warehouse):
        pinned = DEFAULT_ENGINE
    if pinned is None:
        if record:
            root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(marker, f"{name}\n")
        return
    if pinned != name:
        raise EngineMismatch(
            f"the data directory {root} holds its tables on {pinned} ({marker.name} says so, or its loads do), and"
            f" {ENGINE_VARIABLE}={name}: run it with {ENGINE_VARIABLE}={pinned}, or give {name} a data directory"
            " of its own (the deliveries are loaded again there)"
        )


def held_engine(root: Path, warehouse: Path) -> str:
    """The engine a data directory's tables are on (as `pin_engine` tells it); `$CREDIT_ENGINE` for one never used.

    What a command that only reads (`credit explain`, `credit status`) goes by: the tables
    are where they are, whatever the variable says in this shell.
    """
    recorded = _recorded_engine(root)
    if recorded is not None:
        return recorded
    return DEFAULT_ENGINE if _has_loads(warehouse) else engine_name()


def _recorded_engine(root: Path) -> str | None:
    marker = root / ENGINE_FILE
    if marker.exists():
        recorded = marker.read_text(encoding="utf-8").strip()
        if recorded not in ENGINES:
            raise ValueError(f"{marker} says {recorded!r}: the engines are {', '.join(ENGINES)}")
        return recorded
    if (root / SPARK_FOLDER).is_dir():
        return "spark"  # its tables and metastore (`warehouse/spark/session.py`): loaded by Spark before
    return None


def _has_loads(warehouse: Path) -> bool:
    if not warehouse.exists():
        return False
    with connect(warehouse, read_only=True) as connection:
        if not has_table(connection, "raw", "load_ledger"):
            return False
        return connection.execute(
            "select count(*) > 0 from raw.load_ledger where status in ('loaded', 'replaced')"
        ).fetchone()[0]
