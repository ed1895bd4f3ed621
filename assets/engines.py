"""Where the warehouse's data lives and its SQL runs: DuckDB on one machine (the default) or Apache Spark.

One setting chooses, `$CREDIT_ENGINE` (`duckdb` or `spark`). The steps that touch the data go
through this narrow interface: loading a delivery, the training-set snapshot, scoring a
month, publishing the model registry to the monitoring models, and the BI copy. The control
tables (the load ledger, the model registry) stay in the DuckDB file whichever engine holds
the data: the champion/challenger rule needs its transactions, and they are a few rows.
dbt builds the same models on either, from one project: `dbt_target` names the profile
output (`dbt_project/profiles.yml`). The model itself, its card and the files it is trained
from are the same whichever engine ran the SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

import duckdb

from ml.batch_scoring import BatchScorer
from ml.dataset import (
    FEATURE_TABLE,
    ID_COLUMN,
    TrainingSetSummary,
    applicant_values,
    built_deliveries,
    built_deliveries_sql,
    has_feature_rows,
    scoring_rows,
    write_training_pieces,
    write_training_set,
)
from ml.explanations import REASON_COUNT
from ml.model_store import ModelCard
from ml.scoring import DecisionPolicy
from warehouse.database import connect, has_table
from warehouse.engine_setting import ENGINE_VARIABLE, EngineUnavailable, engine_name, pin_engine
from warehouse.ingestion.loader import LoadResult, load_delivery
from warehouse.java_objects import release_finished_queries, releasing_finished_queries
from warehouse.month_tables import EVERY_RESULT, checked_tables
from warehouse.paths import DataPaths
from warehouse.publishing.bi_copy import REGISTRY_TABLE, DuckDBSource, publish, publish_table
from warehouse.publishing.predictions_table import replace_month

Progress = Callable[[str], None]
Gate = Callable[[duckdb.DuckDBPyConnection], None]

DELIVERED_SQL = """
select
    (select count(*) from raw.applications where application_month = $month),
    (select count(target) from raw.applications where application_month = $month),
    (select count(*) from raw.outcomes where known_from <= $month)
"""

SCORED_MODELS_SQL = "select distinct model_version from scoring.predictions order by 1"


class Delivered(NamedTuple):
    applications: int  # of the month
    labelled: int  # of those, delivered with their outcome
    outcomes_known: int  # outcome rows known by the month, from outcome files


class WarehouseEngine(Protocol):
    name: str
    dbt_target: str

    def check_usable(self) -> None:
        """Raise `EngineUnavailable` if this process can no longer use the engine (a retry here would fail too)."""

    def load_delivery(self, path: Path, progress: Progress | None = None, skip_superseded: bool = False) -> LoadResult:
        """Check a delivery (applications or outcomes) against the raw-file contract and load it.

        Recorded in the load ledger: the same content again is `unchanged` and not read. A refused
        file is quarantined beside its report and `DeliveryRejected` raised; nothing is written.
        With `skip_superseded` (the inbox's rule), content replaced since it was loaded is left alone.
        """

    def delivered(self, month: date) -> Delivered:
        """What the warehouse holds of the month's deliveries."""

    def has_features(self, month: date) -> bool | None:
        """Whether the feature mart holds the month's applications; None when no features were ever built."""

    def built_deliveries(self, month: date) -> dict[str, set[datetime]]:
        """Each delivery month M's training set reads from the marts, with the loads its rows there came from."""

    def write_training_set(self, month: date, path: Path) -> TrainingSetSummary:
        """Month M's point-in-time training rows, written whole to Parquet at `path`."""

    def score_month(
        self,
        month: date,
        model_text: str,
        card: ModelCard,
        policy: DecisionPolicy,
        reason_count: int = REASON_COUNT,
        gate: Gate | None = None,
    ) -> int:
        """Score every application of the month with the model and replace the month's predictions; the rows.

        `gate` is called first with a connection to the DuckDB file (the ledger, the registry), whose
        lock is held until the scores are written, and may raise to stop before anything is.
        """

    def scored_model_versions(self) -> list[str]:
        """The models whose scores `scoring.predictions` holds, in any month."""

    def publish_registry(self) -> int:
        """Make the model registry and its feature baselines (in the DuckDB file, always) readable where the monitoring
        models run; the registry's rows. On Spark each table's copy is replaced whole, one after the other: a
        failure between the two is mended by the next monitoring build, which publishes both again."""

    def publish_bi_copy(self, month: date, root: Path) -> dict[str, int]:
        """Copy the month's predictions and monitoring, and the registry, out as Parquet for BI; rows per table."""

    def month_results(
        self, month: date, tables: Sequence[str] = EVERY_RESULT
    ) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A DuckDB connection where the month's rows of `tables` (`warehouse/month_tables.py`) read as in the
        DuckDB warehouse: the outbox's, the checks' and the report's SQL runs on it. Only read from it."""


@dataclass(frozen=True)
class DuckDBEngine:
    """One DuckDB file under the data directory: everything in one process."""

    paths: DataPaths
    name: str = "duckdb"
    dbt_target: str = "duckdb"

    def check_usable(self) -> None:
        return None  # the file is opened anew by each call

    def load_delivery(self, path: Path, progress: Progress | None = None, skip_superseded: bool = False) -> LoadResult:
        return load_delivery(path, self.paths, progress, skip_superseded=skip_superseded)

    def delivered(self, month: date) -> Delivered:
        with connect(self.paths.warehouse, read_only=True) as connection:
            return Delivered(*connection.execute(DELIVERED_SQL, {"month": month}).fetchone())

    def has_features(self, month: date) -> bool | None:
        with connect(self.paths.warehouse, read_only=True) as connection:
            if not has_table(connection, *FEATURE_TABLE.split(".")):
                return None
            return has_feature_rows(connection, month)

    def built_deliveries(self, month: date) -> dict[str, set[datetime]]:
        with connect(self.paths.warehouse, read_only=True) as connection:
            return built_deliveries(connection, month)

    def write_training_set(self, month: date, path: Path) -> TrainingSetSummary:
        with connect(self.paths.warehouse, read_only=True) as connection:
            return write_training_set(connection, month, path)

    def score_month(
        self,
        month: date,
        model_text: str,
        card: ModelCard,
        policy: DecisionPolicy,
        reason_count: int = REASON_COUNT,
        gate: Gate | None = None,
    ) -> int:
        import lightgbm as lgb

        with connect(self.paths.warehouse) as connection:
            if gate:
                gate(connection)
            rows = scoring_rows(connection, month)
            values = applicant_values(connection, month=month)
            if rows.empty and values.empty:
                raise ValueError(f"no applications delivered for {month:%Y-%m}: nothing to score")
            if list(values[ID_COLUMN]) != list(rows[ID_COLUMN]):
                raise ValueError(
                    f"the feature mart and raw.applications disagree on the applications of {month:%Y-%m}:"
                    " run dbt again"
                )
            scorer = BatchScorer.from_card(card, policy, reason_count)
            scored = scorer.score(lgb.Booster(model_str=model_text), rows, values)
            return replace_month(connection, month, scored)

    def scored_model_versions(self) -> list[str]:
        with connect(self.paths.warehouse, read_only=True) as connection:
            return [row[0] for row in connection.execute(SCORED_MODELS_SQL).fetchall()]

    def publish_registry(self) -> int:
        with connect(self.paths.warehouse, read_only=True) as connection:
            return connection.execute("select count(*) from scoring.model_registry").fetchone()[0]

    def publish_bi_copy(self, month: date, root: Path) -> dict[str, int]:
        with connect(self.paths.warehouse, read_only=True) as connection:
            return publish(DuckDBSource(connection), month, root)

    @contextmanager
    def month_results(self, month: date, tables: Sequence[str] = EVERY_RESULT) -> Iterator[duckdb.DuckDBPyConnection]:
        checked_tables(tables)  # all of them are in the warehouse itself
        with connect(self.paths.warehouse, read_only=True) as connection:
            yield connection


class SparkEngine:
    """Apache Spark: `$CREDIT_SPARK_MASTER` (default `local[2]`), tables in Parquet under the data directory.

    Deliveries are read by Spark's CSV reader, the training set reaches the driver as Arrow, and
    the month is scored on the executors. Needs the `spark` extra and Java 17.
    """

    name = "spark"
    dbt_target = "spark"

    def __init__(self, paths: DataPaths, session=None, training_piece_rows: int = 50_000):
        try:
            from warehouse.spark.session import spark_session
        except ImportError as error:
            raise EngineUnavailable(
                f"{ENGINE_VARIABLE}=spark needs PySpark and dbt-spark: pip install -e '.[spark]' ({error})"
            ) from error
        self.paths = paths
        self.session = session or spark_session(paths.root)
        # The training set reaches the driver this many rows at a time.
        self.training_piece_rows = training_piece_rows

    def check_usable(self) -> None:
        """The session's JVM still runs it. One that ended (killed, out of memory) or was stopped cannot, and
        PySpark starts no second JVM in a process: a step retried here would fail again, in py4j's words."""
        from py4j.protocol import Py4JError

        context = self.session.sparkContext
        launched = getattr(context._gateway, "proc", None)  # the JVM's process, when this one started it
        try:
            if context._jsc is None or context._jsc.sc().isStopped():
                raise EngineUnavailable(
                    f"this process's Spark session for {self.paths.root} was stopped: run the month again,"
                    " in a new process, which starts a new one"
                )
        except (Py4JError, OSError) as error:  # no answer: py4j's reconnection refused, as a JVM that ended leaves it
            if launched is not None and launched.poll() is None:
                raise  # the JVM runs: some other fault, which a retry may outlive
            status = "" if launched is None else f", exit status {launched.returncode}"
            raise EngineUnavailable(
                f"this process's Spark JVM for {self.paths.root} has ended{status}: run the month again, in a new"
                " process, which starts a new one (if it ran out of memory, give it more: $CREDIT_SPARK_DRIVER_MEMORY)"
            ) from error

    @releasing_finished_queries
    def load_delivery(self, path: Path, progress: Progress | None = None, skip_superseded: bool = False) -> LoadResult:
        from warehouse.spark.delivery_load import load_delivery

        say = progress or (lambda message: None)
        loaded = load_delivery(self.session, path, self.paths, say, skip_superseded=skip_superseded)
        for warning in loaded.warnings:  # as DuckDB's loader says them; the caller reports the outcome
            say(f"warning: {warning}")
        return loaded

    def delivered(self, month: date) -> Delivered:
        from warehouse.spark.tables import ensure_schema

        ensure_schema(self.session)
        sql = DELIVERED_SQL.replace("$month", ":month")
        return Delivered(*self.session.sql(sql, args={"month": month}).first())

    def has_features(self, month: date) -> bool | None:
        if not self.session.catalog.tableExists(FEATURE_TABLE):
            return None
        sql = f"select 1 from {FEATURE_TABLE} where application_month = :month limit 1"
        return bool(self.session.sql(sql, args={"month": month}).take(1))

    def built_deliveries(self, month: date) -> dict[str, set[datetime]]:
        built: dict[str, set[datetime]] = {}
        # As text in the session's time zone (UTC), as the loader wrote it: PySpark would convert a
        # timestamp in the Python process's own zone, and the ledger holds the naive UTC value.
        self.session.conf.set("spark.sql.session.timeZone", "UTC")  # as `spark_session` starts it, whoever did
        as_text = "date_format(loaded_at, 'yyyy-MM-dd HH:mm:ss.SSSSSS')"
        sql = built_deliveries_sql(as_text).replace("$month", ":month")
        for file_name, loaded_at in self.session.sql(sql, args={"month": month}).collect():
            built.setdefault(file_name, set()).add(datetime.fromisoformat(loaded_at))
        return built

    @releasing_finished_queries
    def write_training_set(self, month: date, path: Path) -> TrainingSetSummary:
        from warehouse.spark.marts import training_row_pieces

        pieces = training_row_pieces(self.session, month, self.training_piece_rows)
        return write_training_pieces(pieces, month, path)

    @releasing_finished_queries
    def score_month(
        self,
        month: date,
        model_text: str,
        card: ModelCard,
        policy: DecisionPolicy,
        reason_count: int = REASON_COUNT,
        gate: Gate | None = None,
    ) -> int:
        from warehouse.spark.delivery_load import unfinished_loads
        from warehouse.spark.marts import VALUE_PREFIX, score_month

        scorer = replace(BatchScorer.from_card(card, policy, reason_count), value_prefix=VALUE_PREFIX)
        scored_at = datetime.now(UTC).replace(tzinfo=None)
        # Held while Spark writes: no load begins and no model is registered meanwhile.
        with connect(self.paths.warehouse) as control:
            if gate:
                gate(control)
            # A load writes Spark's partition outside the lock, bracketed by its `loading` row.
            unfinished = unfinished_loads(control)
            if unfinished:  # retried: one under way finishes in the meantime
                raise RuntimeError(
                    f"{', '.join(unfinished)}: a load began and has not finished (or is under way); its rows may be"
                    " partial: load it again, then run the month"
                )
            return score_month(self.session, month, model_text, scorer.make, scored_at)

    def scored_model_versions(self) -> list[str]:
        from warehouse.spark.tables import ensure_schema

        ensure_schema(self.session)
        return [row[0] for row in self.session.sql(SCORED_MODELS_SQL).collect()]

    @releasing_finished_queries
    def publish_registry(self) -> int:
        from warehouse.spark.tables import COPIED_TABLES, replace_copy

        with connect(self.paths.warehouse, read_only=True) as connection:
            copies = {table: connection.table(table).to_arrow_table() for table in COPIED_TABLES}
        rows = {table: replace_copy(self.session, table, copy) for table, copy in copies.items()}
        return rows["scoring.model_registry"]

    @releasing_finished_queries
    def publish_bi_copy(self, month: date, root: Path) -> dict[str, int]:
        from warehouse.spark.bi_copy import SparkSource

        published = publish(SparkSource(self.session), month, root)
        # The registry BI reads is the one of record, in the DuckDB file, not Spark's copy of it.
        with connect(self.paths.warehouse, read_only=True) as connection:
            published[REGISTRY_TABLE] = publish_table(connection, REGISTRY_TABLE, root)
        return published

    @contextmanager
    def month_results(self, month: date, tables: Sequence[str] = EVERY_RESULT) -> Iterator[duckdb.DuckDBPyConnection]:
        from warehouse.spark.month_results import month_results

        try:
            connection = month_results(self.session, month, tables)  # Spark's part is done when it returns
        finally:
            release_finished_queries()
        try:
            yield connection
        finally:
            connection.close()


def warehouse_engine(paths: DataPaths, environment: dict[str, str] | None = None) -> WarehouseEngine:
    """The engine `$CREDIT_ENGINE` names, for a data directory on that engine (`pin_engine`)."""
    name = engine_name(environment)
    pin_engine(paths.root, paths.warehouse, name, record=False)  # refused before Spark would start
    engine = SparkEngine(paths) if name == "spark" else DuckDBEngine(paths)
    pin_engine(paths.root, paths.warehouse, name)
    return engine
