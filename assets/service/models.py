"""The models the service scores with: the champion, and a pending challenger scoring in shadow.

Read from the published copy of the registry (`serving/parquet/model_registry/data.parquet`,
written by each month's run and by each model trained ahead) and the model store; never from
the warehouse. A watcher looks at the registry file twice a second; when it changes, the new
models are loaded whole, then swapped in by one assignment: a request in flight finishes with
the models it started with, the next one gets the new ones, and none fails in between.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import lightgbm as lgb

from ml.champion import PENDING, champion_as_of
from ml.features import excluded_features
from ml.model_store import ModelCard, load_model
from ml.scoring import DecisionPolicy
from warehouse.fair_lending import protected_attributes
from warehouse.publishing.bi_copy import PARQUET_FOLDER, REGISTRY_TABLE
from warehouse.publishing.decision_policy import POLICY_FILE, read_decision_policy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    booster: lgb.Booster
    card: ModelCard

    @property
    def version(self) -> str:
        return self.card.version


@dataclass(frozen=True)
class ModelSet:
    champion: LoadedModel
    challenger: LoadedModel | None  # a pending challenger: scored in shadow, logged, never returned
    policy: DecisionPolicy  # the thresholds the latest month was scored with
    reasons: int  # and how many reasons each decision gave


def registry_file(serving: Path) -> Path:
    return serving / PARQUET_FOLDER / REGISTRY_TABLE / "data.parquet"


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size  # a file replaced whole is a new inode


def _loaded(models_root: Path, version: str) -> LoadedModel:
    booster, card = load_model(models_root, version)
    protected = excluded_features(card.feature_names, protected_attributes())
    if protected:
        raise ValueError(
            f"{version} reads features of protected attributes ({', '.join(protected[:5])}): it may not score"
        )
    return LoadedModel(booster, card)


def read_model_set(serving: Path, models_root: Path) -> ModelSet:
    """The current champion, the latest pending challenger and the published policy; ValueError if one is missing.

    A challenger that cannot be loaded is left out (and logged): it never keeps the champion from scoring.
    """
    published_policy = read_decision_policy(serving)
    if published_policy is None:
        raise ValueError("no decision policy published yet: run a month (its scoring step publishes it)")
    with duckdb.connect(":memory:") as connection:
        connection.execute("create schema scoring")
        connection.execute(
            "create table scoring.model_registry as select * from read_parquet(?)", [str(registry_file(serving))]
        )
        champion = champion_as_of(connection)
        pending = connection.execute(
            "select version from scoring.model_registry where status = ? order by registered_at desc limit 1", [PENDING]
        ).fetchall()
    if champion is None:
        raise ValueError("the published registry has no champion yet: run a month first")
    challenger = None
    if pending:
        try:
            challenger = _loaded(models_root, pending[0][0])
        except Exception as error:
            logger.warning("challenger %s is not scored in shadow: %s", pending[0][0], error)
    policy = DecisionPolicy(review_from=published_policy["review_from"], decline_from=published_policy["decline_from"])
    return ModelSet(_loaded(models_root, champion.version), challenger, policy, int(published_policy["reasons"]))


class ModelWatcher:
    """Holds the current ModelSet and replaces it when the published registry changes."""

    def __init__(self, serving: Path, models_root: Path, poll_seconds: float = 0.5):
        self.serving = serving
        self.registry = registry_file(serving)
        self.models_root = models_root
        self.poll_seconds = poll_seconds
        self.models: ModelSet | None = None
        self.problem: str | None = "no model loaded yet"
        self._stamp: tuple | None = None
        self._failed: tuple | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="model-watcher", daemon=True)

    def start(self) -> ModelWatcher:
        self.refresh()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def refresh(self) -> None:
        registry, policy = _file_stamp(self.registry), _file_stamp(self.serving / POLICY_FILE)
        if registry is None:
            self.problem = "no published model registry: run a month first"
            return
        stamp = (registry, policy)
        if stamp in (self._stamp, self._failed):
            return
        try:
            models = read_model_set(self.serving, self.models_root)
        except Exception as error:  # the old set keeps scoring
            self.problem = f"could not load the models of the published registry: {error}"
            logger.warning(self.problem)
            # Files are replaced whole, so the same files fail the same way: tried again once they change.
            self._failed = stamp
            return
        previous = self.models
        self.models, self._stamp, self.problem = models, stamp, None
        if previous is None or previous.champion.version != models.champion.version:
            logger.warning("scoring with champion %s", models.champion.version)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.refresh()
