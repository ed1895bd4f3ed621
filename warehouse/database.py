"""The DuckDB warehouse: connection, raw schema and safe identifiers.

SQL in this project takes values as bound parameters. Identifiers (column and table
names) cannot be bound, so each one passes `quote_identifier`, which accepts only plain
names; the names themselves come from the raw-file contract or the feature mart.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.ingestion.contract import COLUMNS

logger = logging.getLogger(__name__)

_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnsafeIdentifierError(ValueError):
    """A name that would not be safe to place in SQL."""


def quote_identifier(name: str) -> str:
    if not _PLAIN_IDENTIFIER.fullmatch(name):  # `$` alone would let a trailing line break through
        raise UnsafeIdentifierError(f"{name!r} is not a plain SQL identifier")
    return f'"{name}"'


def raw_column_name(contract_name: str) -> str:
    """Raw tables use the contract's names in lower case, like every other layer."""
    return contract_name.lower()


def has_table(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether dbt has built the table yet: readers of its marts say so instead of failing."""
    return (
        connection.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
        ).fetchall()[0][0]
        > 0
    )


def applications_ddl() -> str:
    columns = ",\n    ".join(f"{quote_identifier(raw_column_name(name))} {sql_type}" for name, sql_type in COLUMNS)
    return (
        "create table if not exists raw.applications (\n    "
        + columns
        + ",\n    delivery_file varchar not null,"
        + "\n    application_month date,"
        + "\n    loaded_at timestamp not null\n)"
    )


# Bump when a table Python creates changes shape; an older warehouse then fails with a clear message.
SCHEMA_VERSION = 5

LEDGER_DDL = """
create table if not exists raw.load_ledger (
    delivery_file varchar not null,
    kind varchar,
    delivery_month date,
    status varchar not null,
    row_count bigint,
    sha256 varchar not null,
    source_path varchar not null,
    message varchar,
    loaded_at timestamp not null
)
"""

OUTCOMES_DDL = """
create table if not exists raw.outcomes (
    sk_id_curr bigint not null,
    target bigint not null,
    delivery_file varchar not null,
    known_from date not null,
    loaded_at timestamp not null
)
"""

PREDICTIONS_DDL = """
create table if not exists scoring.predictions (
    sk_id_curr bigint not null,
    application_month date not null,
    default_probability double not null,
    risk_grade varchar not null,
    decision varchar not null,
    -- The source columns that pushed this applicant's risk up most (summed LightGBM
    -- contributions), as mart column names and as "label: the applicant's value"; null past
    -- the last one that pushed it up.
    reason_code_1 varchar,
    reason_code_2 varchar,
    reason_code_3 varchar,
    reason_code_4 varchar,
    reason_1 varchar,
    reason_2 varchar,
    reason_3 varchar,
    reason_4 varchar,
    model_version varchar not null,
    -- The decision policy's thresholds when it was scored, so the decision can be reproduced.
    review_from double not null,
    decline_from double not null,
    scored_at timestamp not null
)
"""


class WarehouseVersionError(RuntimeError):
    """A warehouse file created by another version of this project."""


def _check_schema_version(connection: duckdb.DuckDBPyConnection, path: Path) -> None:
    connection.execute("create table if not exists raw.warehouse_info (schema_version integer not null)")
    row = connection.execute("select max(schema_version) from raw.warehouse_info").fetchone()
    if row[0] is None:
        has_old_ledger = connection.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'load_ledger'"
        ).fetchone()[0]
        if has_old_ledger:
            row = (1,)
        else:
            connection.execute("insert into raw.warehouse_info values (?)", [SCHEMA_VERSION])
            return
    if row[0] == 4:
        _move_python_tables_to_scoring(connection)
    elif row[0] != SCHEMA_VERSION:
        raise WarehouseVersionError(
            f"{path} has warehouse schema {row[0]}, this version uses {SCHEMA_VERSION}: "
            f"move it aside (or remove the data directory) and load the deliveries again"
        )


def _move_python_tables_to_scoring(connection: duckdb.DuckDBPyConnection) -> None:
    """Schema 4 to 5: the predictions and the model registry move from dbt's `marts` to `scoring`, in one transaction.

    Nothing is lost: every published decision and every registered model comes along.
    """
    with transaction(connection):
        for statement in (
            PREDICTIONS_DDL,
            "insert into scoring.predictions by name select * from marts.predictions",
            "drop table marts.predictions",
            MODEL_REGISTRY_DDL,
            "insert into scoring.model_registry by name select * from marts.model_registry",
            "drop table marts.model_registry",
        ):
            connection.execute(statement)
        connection.execute("update raw.warehouse_info set schema_version = ?", [SCHEMA_VERSION])
    logger.warning("warehouse moved to schema %s: predictions and model registry now in schema scoring", SCHEMA_VERSION)


MODEL_REGISTRY_DDL = """
create table if not exists scoring.model_registry (
    version varchar not null,
    training_month date not null,
    validation_month date,
    params varchar not null,
    validation_auc double not null,
    champion_version varchar,
    champion_validation_auc double,
    training_fingerprint varchar not null,
    model_sha256 varchar not null,
    status varchar not null,
    decision_reason varchar not null,
    registered_at timestamp not null,
    -- Deciles of the model's out-of-sample scores on its validation window (`ml/score_baseline.py`):
    -- score drift compares a month with these.
    score_bin_upper_bounds double[],
    score_bin_shares double[],
    -- Attributes the model never saw (comma separated contract names), its windows (JSON, as on
    -- its card), where it is stored, and the swap set against the champion it was compared with (JSON).
    excluded_attributes varchar not null,
    windows varchar not null,
    model_path varchar not null,
    swap_set varchar
)
"""


# Every feature of each registered model, binned over its training set (`ml/feature_baseline.py`):
# feature drift compares a month with these, never with the history itself.
FEATURE_BASELINES_DDL = """
create table if not exists scoring.feature_baselines (
    version varchar not null,
    feature varchar not null,
    feature_kind varchar not null,   -- numeric or categorical
    bins varchar[] not null,         -- numeric: '0'..'k' then 'missing'; categorical: its levels then 'missing'
    shares double[] not null,        -- the training set's share in each bin
    cuts double[],                   -- numeric: bin i holds values in (cuts[i-1], cuts[i]]
    reference_rows bigint not null
)
"""


# The definition each incremental dbt model was last built from (warehouse/model_definitions.py).
MODEL_DEFINITIONS_DDL = """
create table if not exists raw.model_definitions (
    model varchar not null,           -- dbt's unique id: model.credit_default.fct_application_features
    definition_sha256 varchar not null,
    built_at timestamp not null
)
"""


def ensure_schema(connection: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Create the schemas Python writes to, if missing: `raw` (deliveries), `scoring` (scores, registry, baselines).

    dbt owns `staging`, `marts` and `monitoring`; it reads `raw` and `scoring` as sources.
    """
    connection.execute("create schema if not exists raw")
    connection.execute("create schema if not exists scoring")
    _check_schema_version(connection, path)
    connection.execute(applications_ddl())
    connection.execute(LEDGER_DDL)
    connection.execute(OUTCOMES_DDL)
    connection.execute(PREDICTIONS_DDL)
    connection.execute(MODEL_REGISTRY_DDL)
    connection.execute(FEATURE_BASELINES_DDL)
    connection.execute(MODEL_DEFINITIONS_DDL)


class WarehouseBusyError(RuntimeError):
    """The warehouse stayed locked by another process for longer than the wait allowed."""


DEFAULT_LOCK_WAIT_SECONDS = 600.0
_LOCK_POLL_SECONDS = 0.25


def lock_wait_seconds() -> float:
    """How long to wait for another process's lock: `$CREDIT_LOCK_WAIT_SECONDS`, default ten minutes."""
    return float(os.environ.get("CREDIT_LOCK_WAIT_SECONDS", DEFAULT_LOCK_WAIT_SECONDS))


MEMORY_LIMIT_VARIABLE = "CREDIT_DUCKDB_MEMORY_LIMIT"
# DuckDB's own default is 80 % of the machine: a training-set sort at ten times Home Credit's size
# took 5.7 GB of it. Past this limit DuckDB spills sorts, joins and temporary tables to disk.
DEFAULT_MEMORY_LIMIT = "2GB"
_MEMORY_SIZE = re.compile(r"^(\d+(\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$", re.IGNORECASE)


class SettingError(ValueError):
    """A setting from the environment that this project cannot use."""


LOAD_MEMORY_LIMIT_VARIABLE = "CREDIT_LOAD_MEMORY_LIMIT"
# A load keeps the row groups it appends until it commits: under a 2GB cap DuckDB evicted and
# re-read them, and the history at 10 x took 47 s instead of 28 s, at 1.1 GB resident either way.
DEFAULT_LOAD_MEMORY_LIMIT = "3GB"


def memory_limit(variable: str = MEMORY_LIMIT_VARIABLE, default: str = DEFAULT_MEMORY_LIMIT) -> str:
    """The most memory DuckDB may hold in one process: `$CREDIT_DUCKDB_MEMORY_LIMIT`, default 2GB (dbt's too).

    A delivery's load has its own, `$CREDIT_LOAD_MEMORY_LIMIT` (default 3GB): see `load_memory_limit`.
    """
    value = os.environ.get(variable, default).strip()
    size = _MEMORY_SIZE.match(value)
    if not size or float(size[1]) <= 0:
        raise SettingError(f"{variable}={value!r} is not a size such as 2GB, 1500MB or 50%")
    return value


def load_memory_limit() -> str:
    return memory_limit(LOAD_MEMORY_LIMIT_VARIABLE, DEFAULT_LOAD_MEMORY_LIMIT)


def dbt_connect_attempts(wait_seconds: float) -> int:
    """The connect attempts dbt may make within `wait_seconds` (profiles.yml `retries`).

    dbt-duckdb sleeps 2**k seconds after its k-th failed attempt, the last one included, so n
    attempts give up after 1 + 2 + ... + 2**(n-1) = 2**n - 1 seconds: the most n that stays
    within the wait, and always at least one attempt.
    """
    attempts = 1
    while 2 ** (attempts + 1) - 1 <= wait_seconds:
        attempts += 1
    return attempts


def _open_when_free(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """DuckDB allows one writing process; a second one waits for it instead of failing at once."""
    deadline = time.monotonic() + lock_wait_seconds()
    waiting_since = None
    while True:
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"{path} is still in use by another process after {lock_wait_seconds():.0f} s: {error}"
                ) from error
            if waiting_since is None:
                waiting_since = time.monotonic()
                logger.warning("waiting for the warehouse, which another process is writing: %s", error)
            time.sleep(_LOCK_POLL_SECONDS)
            continue
        if waiting_since is not None:
            logger.warning("warehouse free after %.1f s", time.monotonic() - waiting_since)
        return connection


@contextmanager
def connect(path: Path, read_only: bool = False, limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that is always closed, so the single-writer lock is released for dbt.

    DuckDB may hold `limit` (a checked size) or `memory_limit()`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    limit = limit or memory_limit()  # a bad setting fails before the lock is waited for
    connection = _open_when_free(path, read_only)
    try:
        # The bar is for interactive shells; in logs it is noise.
        connection.execute("set enable_progress_bar = false")
        connection.execute("set memory_limit = ?", [limit])
        if not read_only:
            ensure_schema(connection, path)
        yield connection
    finally:
        connection.close()


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Commit on success, roll back on any error: a write lands whole or not at all."""
    connection.begin()
    try:
        yield connection
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
