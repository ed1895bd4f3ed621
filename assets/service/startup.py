"""Everything `credit serve` starts before it listens: the feature SQL, the models, the decision log."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, date, datetime

from fastapi import FastAPI

from assets.service.app import Access, create_app
from assets.service.delivery_page import add_delivery_page
from assets.service.feature_sql import compile_feature_sql
from assets.service.models import ModelWatcher
from assets.service.online_scoring import OnlineScorer
from warehouse.online.decision_log import DecisionLog
from warehouse.online.features import DuckDbFeatures, RowFeatures, verify
from warehouse.online.row_sql import UnsupportedSql
from warehouse.paths import DataPaths, dbt_executable

ONLINE_TARGET_FOLDER = "online"


def row_features_or_none(reference: DuckDbFeatures, say: Callable[[str], None]) -> RowFeatures | None:
    """The row-by-row evaluator of the feature SQL, if it compiles and gives DuckDB's answer on the probe rows."""
    try:
        candidate = RowFeatures(reference.sql)
    except UnsupportedSql as error:
        say(f"the feature SQL runs on DuckDB for every request: {error}")
        return None
    now = datetime.now(UTC).replace(tzinfo=None)
    differences = verify(reference, candidate, date(now.year, now.month, 1), now)
    if differences:
        say(
            f"the row-by-row features differ from DuckDB's ({'; '.join(differences[:3])}): DuckDB answers every request"
        )
        return None
    return candidate


def build_service(paths: DataPaths, token: str | None, say: Callable[[str], None] = lambda line: None) -> FastAPI:
    say("compiling the feature SQL with dbt (the online target: an empty in-memory database)")
    sql = compile_feature_sql(dbt_executable(), paths.dbt_target / ONLINE_TARGET_FOLDER)
    reference = DuckDbFeatures(sql)
    row_features = row_features_or_none(reference, say)
    watcher = ModelWatcher(paths.serving, paths.models).start()
    if watcher.models is None:
        say(f"not ready: {watcher.problem}")
    else:
        say(
            f"champion {watcher.models.champion.version}"
            + (f", challenger {watcher.models.challenger.version} in shadow" if watcher.models.challenger else "")
        )
    log = DecisionLog(paths.decisions)
    log.open_today()  # one service per data directory: a second one stops here, saying so
    scorer = OnlineScorer(reference, row_features, watcher, log)
    access = Access(token)
    app = create_app(scorer, access)
    add_delivery_page(app, paths, watcher, access)
    # What start-up loaded (dbt's compile, the models, pandas) stays for the process's life: out of
    # the collector's sight, so its full collections stop walking it between requests.
    gc.collect()
    gc.freeze()
    return app
