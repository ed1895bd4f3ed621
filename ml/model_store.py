"""Models on disk: LightGBM's own text format plus a JSON card. Nothing is pickled.

`<models>/<YYYY-MM>/model.txt` and `card.json`; the card holds the parameters, metrics,
feature list, the calibration, the training set's fingerprint, library versions and the
model file's sha256, which is checked again on every load.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import lightgbm as lgb
import optuna
import pandas as pd
import sklearn

from ml.calibration import PlattScaling
from ml.training import TrainedModel, TrainingConfig

MODEL_FILE = "model.txt"
CARD_FILE = "card.json"


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
    # Deciles of the model's scores on its training window (`ml.score_baseline`), for score drift.
    score_baseline: dict | None = None
    # Wall seconds of each training phase (`TrainedModel.timings`; `make bench` reports them).
    timings: dict | None = None

    @property
    def platt_scaling(self) -> PlattScaling | None:
        return PlattScaling(**self.calibration) if self.calibration else None


def model_dir(models_root: Path, month: date) -> Path:
    return models_root / f"{month:%Y-%m}"


def report_dir(models_root: Path, month: date) -> Path:
    """The evaluation plots and HTML report of the month's model."""
    return model_dir(models_root, month) / "evaluation"


def _library_versions() -> dict:
    return {
        "python": platform.python_version(),
        "lightgbm": lgb.__version__,
        "optuna": optuna.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
    }


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def save_model(
    trained: TrainedModel,
    month: date,
    training_fingerprint: str,
    config: TrainingConfig,
    models_root: Path,
    warm_start: dict | None = None,
) -> ModelCard:
    folder = model_dir(models_root, month)
    folder.mkdir(parents=True, exist_ok=True)
    model_text = trained.booster.model_to_string(num_iteration=trained.booster.best_iteration or None)
    sha256 = hashlib.sha256(model_text.encode("utf-8")).hexdigest()
    card = ModelCard(
        month=f"{month:%Y-%m}",
        version=f"{month:%Y-%m}.{sha256[:10]}",
        trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
        timings=trained.timings or None,
    )
    # The model first, the card last: a card only ever describes a complete model file.
    _write_atomically(folder / MODEL_FILE, model_text)
    _write_atomically(folder / CARD_FILE, json.dumps(asdict(card), indent=2))
    return card


def read_card(models_root: Path, month: date) -> ModelCard | None:
    path = model_dir(models_root, month) / CARD_FILE
    if not path.exists():
        return None
    return ModelCard(**json.loads(path.read_text(encoding="utf-8")))


def load_model(models_root: Path, month: date) -> tuple[lgb.Booster, ModelCard]:
    card = read_card(models_root, month)
    if card is None:
        raise FileNotFoundError(f"no model for {month:%Y-%m} under {models_root}")
    model_text = (model_dir(models_root, month) / MODEL_FILE).read_text(encoding="utf-8")
    if hashlib.sha256(model_text.encode("utf-8")).hexdigest() != card.model_sha256:
        raise ModelIntegrityError(f"model {card.version}: model.txt does not match the sha256 in its card")
    return lgb.Booster(model_str=model_text), card


def _model_file_matches(models_root: Path, month: date, card: ModelCard) -> bool:
    path = model_dir(models_root, month) / MODEL_FILE
    return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == card.model_sha256


def reusable_card(
    models_root: Path, month: date, training_fingerprint: str, config: TrainingConfig, warm_start: dict | None = None
) -> ModelCard | None:
    """The stored model of this month if it was trained on the same rows, config and warm start.

    A model file that no longer matches its card (a save killed between the two files) is
    not reused: the model is trained again, so a re-run after a crash succeeds.
    """
    card = read_card(models_root, month)
    if (
        card
        and card.training_fingerprint == training_fingerprint
        and card.training_config == config.as_dict()
        and card.warm_start == warm_start
        and _model_file_matches(models_root, month, card)
    ):
        return card
    return None
