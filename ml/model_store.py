"""Models on disk: LightGBM's own text format plus a JSON card. Nothing is pickled.

Every version keeps a folder of its own, `<models>/<version>/` (the version is the training
month and the model's sha256, `2021-01.6b33dba0c0`), so a model that ever scored stays
loadable after its month is trained again: an auditor or an adverse-action review can
recompute any published decision. The folder holds `model.txt`, `card.json` (parameters,
metrics, features, protected attributes left out, the windows of the procedure, the
calibration, the training set's fingerprint, library versions and the model file's
sha256, checked again on every load), `validation.parquet` (the validation window's ids,
labels and out-of-sample probabilities, which the promotion compares) and `evaluation/`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml.calibration import PlattScaling
from ml.training_config import TrainingConfig
from warehouse.atomic_files import atomic_write, atomic_write_text

if TYPE_CHECKING:  # the training code is loaded by those who train, not by those who score
    from ml.training import TrainedModel

MODEL_FILE = "model.txt"
CARD_FILE = "card.json"
VALIDATION_FILE = "validation.parquet"
# A version names a folder: only this shape ever reaches a path.
_VERSION = re.compile(r"^\d{4}-\d{2}\.[0-9a-f]{10}$")


class ModelIntegrityError(RuntimeError):
    """A model file that does not match its card."""


@dataclass(frozen=True)
class ModelCard:
    month: str
    version: str
    trained_at: str
    params: dict
    metrics: dict
    feature_names: list[str]
    training_fingerprint: str
    training_config: dict
    library_versions: dict
    model_sha256: str
    # Platt scaling applied to the model's probabilities; None when calibrated as it is.
    calibration: dict | None = None
    # The tuned parameters the search started from (last month's), part of the reuse key.
    warm_start: dict | None = None
    # Deciles of the validation model's out-of-sample scores on the validation window
    # (`ml.score_baseline`), for score drift.
    score_baseline: dict | None = None
    # Every mart feature binned over the training set, the development sample (`ml.feature_baseline`),
    # for feature drift; None on cards written before it was recorded.
    feature_baseline: list | None = None
    # Wall seconds of each training phase (`TrainedModel.timings`; `make bench` reports them).
    timings: dict | None = None
    # Every window of the procedure: name, role (fit, choice or figure), what it served, months, history ids, rows.
    windows: list | None = None
    # Contract columns the model never saw, and the mart features left out because of them.
    protected_attributes: list | None = None
    excluded_features: list | None = None
    # The delivery files its training labels came from: an outcome file delivered after the
    # model was trained (say with the month it scores) counts from the next model on.
    label_deliveries: list | None = None

    @property
    def platt_scaling(self) -> PlattScaling | None:
        return PlattScaling(**self.calibration) if self.calibration else None

    @property
    def training_month(self) -> date:
        return date.fromisoformat(f"{self.month}-01")


def model_dir(models_root: Path, version: str) -> Path:
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ValueError(f"{version!r} is not a model version (YYYY-MM.<10 hex digits>)")
    return models_root / version


# What `ml.reports.model_report` draws into a model's report folder.
PLOTS = ("roc", "precision_recall", "calibration", "deciles", "importance")
REPORT_FILE = "report.html"


def report_dir(models_root: Path, version: str) -> Path:
    """The evaluation plots and HTML report of one model version."""
    return model_dir(models_root, version) / "evaluation"


def _library_versions() -> dict:
    return {
        "python": platform.python_version(),
        "lightgbm": lgb.__version__,
        # Read from the installed packages: scoring, which also loads this module, never imports them.
        "optuna": metadata.version("optuna"),
        "scikit-learn": metadata.version("scikit-learn"),
        "pandas": pd.__version__,
    }


def save_model(
    trained: TrainedModel,
    month: date,
    training_fingerprint: str,
    config: TrainingConfig,
    models_root: Path,
    warm_start: dict | None = None,
    label_deliveries: tuple[str, ...] = (),
) -> ModelCard:
    model_text = trained.booster.model_to_string(num_iteration=trained.booster.best_iteration or None)
    sha256 = hashlib.sha256(model_text.encode("utf-8")).hexdigest()
    version = f"{month:%Y-%m}.{sha256[:10]}"
    folder = model_dir(models_root, version)
    folder.mkdir(parents=True, exist_ok=True)
    card = ModelCard(
        month=f"{month:%Y-%m}",
        version=version,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        params=trained.params,
        metrics=trained.metrics,
        feature_names=trained.feature_names,
        training_fingerprint=training_fingerprint,
        training_config=config.as_dict(),
        library_versions=_library_versions(),
        model_sha256=sha256,
        calibration=trained.calibration.as_dict() if trained.calibration else None,
        warm_start=warm_start,
        score_baseline=trained.score_baseline.as_dict() if trained.score_baseline else None,
        feature_baseline=[baseline.as_dict() for baseline in trained.feature_baseline] or None,
        timings=trained.timings or None,
        windows=[window.as_dict() for window in trained.windows],
        protected_attributes=list(trained.protected_attributes),
        excluded_features=list(trained.excluded_features),
        label_deliveries=list(label_deliveries),
    )
    # The model first, the card last: a card only ever describes a complete model file.
    atomic_write_text(folder / MODEL_FILE, model_text)
    if trained.validation is not None:
        with atomic_write(folder / VALIDATION_FILE) as temporary:
            pq.write_table(pa.Table.from_pandas(trained.validation, preserve_index=False), temporary)
    atomic_write_text(folder / CARD_FILE, json.dumps(asdict(card), indent=2))
    return card


def read_card(models_root: Path, version: str) -> ModelCard | None:
    path = model_dir(models_root, version) / CARD_FILE
    if not path.exists():
        return None
    return ModelCard(**json.loads(path.read_text(encoding="utf-8")))


def month_cards(models_root: Path, month: date) -> list[ModelCard]:
    """Every stored model trained for `month`, newest first."""
    cards = [read_card(models_root, path.parent.name) for path in models_root.glob(f"{month:%Y-%m}.*/{CARD_FILE}")]
    return sorted((card for card in cards if card), key=lambda card: card.trained_at, reverse=True)


def latest_card(models_root: Path, month: date) -> ModelCard | None:
    cards = month_cards(models_root, month)
    return cards[0] if cards else None


def load_model(models_root: Path, version: str) -> tuple[lgb.Booster, ModelCard]:
    model_text, card = load_model_text(models_root, version)
    return lgb.Booster(model_str=model_text), card


def load_model_text(models_root: Path, version: str) -> tuple[str, ModelCard]:
    """The model in LightGBM's own text format, checked against its card: what Spark's executors are sent."""
    card = read_card(models_root, version)
    if card is None:
        raise FileNotFoundError(f"no model {version} under {models_root}")
    model_text = (model_dir(models_root, version) / MODEL_FILE).read_text(encoding="utf-8")
    if hashlib.sha256(model_text.encode("utf-8")).hexdigest() != card.model_sha256:
        raise ModelIntegrityError(f"model {card.version}: model.txt does not match the sha256 in its card")
    return model_text, card


def validation_scores(models_root: Path, version: str) -> pd.DataFrame:
    """The validation window's ids, labels and the validation model's out-of-sample probabilities."""
    return pq.read_table(model_dir(models_root, version) / VALIDATION_FILE).to_pandas()


def _model_file_matches(models_root: Path, card: ModelCard) -> bool:
    folder = model_dir(models_root, card.version)
    path = folder / MODEL_FILE
    return (
        path.exists()
        and (folder / VALIDATION_FILE).exists()
        and hashlib.sha256(path.read_bytes()).hexdigest() == card.model_sha256
    )


def reusable_card(
    models_root: Path, month: date, training_fingerprint: str, config: TrainingConfig, warm_start: dict | None = None
) -> ModelCard | None:
    """A stored model of this month trained on the same rows, config and warm start, if there is one.

    A model file that no longer matches its card (a save killed between the two files) is
    not reused: the model is trained again, so a re-run after a crash succeeds.
    """
    for card in month_cards(models_root, month):
        if (
            card.training_fingerprint == training_fingerprint
            and card.training_config == config.as_dict()
            and card.warm_start == warm_start
            and _model_file_matches(models_root, card)
        ):
            return card
    return None
