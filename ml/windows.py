"""The windows of a month's training: the rows each step is fitted on, chooses on, or is judged on.

For month M's training set (every labelled row delivered before M):
- **validation window**: the latest labelled month before M; before any such month, the
  latest tenth of the history by id (ids run in application order). Every reported figure,
  the promotion comparison and the score-drift baseline come from here, and nothing is
  chosen here.
- **tuning window**: the latest labelled month before the validation window; before any,
  the latest tenth of the history rows before it. Hyper-parameters, early stopping and the
  calibration are chosen here.
- the fit windows: every row before the tuning window (tuning fits), every row before the
  validation window (the validation model), every row (the deployed model).

A window is described by the months and the range of history ids it holds, so two windows
of two models' cards can be checked for overlap without the rows themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ml.dataset import ID_COLUMN, MONTH_COLUMN

HISTORY_WINDOW_SHARE = 0.1

FIT, CHOICE, FIGURE = "fit", "choice", "figure"


@dataclass(frozen=True)
class Window:
    name: str
    role: (
        str  # fit (a model is fitted on it), choice (something is chosen on it) or figure (a figure is measured on it)
    )
    used_for: str
    months: tuple[str, ...]  # YYYY-MM of the delivered months it holds
    history_ids: tuple[int, int] | None  # first and last id of the history rows it holds
    rows: int

    def overlaps(self, other: Window) -> bool:
        if set(self.months) & set(other.months):
            return True
        if self.history_ids and other.history_ids:
            return not (self.history_ids[1] < other.history_ids[0] or other.history_ids[1] < self.history_ids[0])
        return False

    def describe(self) -> str:
        parts = list(self.months)
        if self.history_ids:
            parts.insert(0, f"history ids {self.history_ids[0]}-{self.history_ids[1]}")
        return f"{', '.join(parts) or 'no rows'} ({self.rows:,} rows)"

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "months": list(self.months),
            "history_ids": list(self.history_ids) if self.history_ids else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Window:
        ids = data.get("history_ids")
        return cls(
            data["name"],
            data["role"],
            data["used_for"],
            tuple(data["months"]),
            tuple(ids) if ids else None,
            data["rows"],
        )


def _order(frame: pd.DataFrame) -> np.ndarray:
    """Each row's place in delivery order: history rows first by id, then months oldest first."""
    months = pd.to_datetime(frame[MONTH_COLUMN])
    month_rank = np.where(months.isna(), 0, months.dt.year.fillna(0) * 12 + months.dt.month.fillna(0)).astype(np.int64)
    ids = frame[ID_COLUMN].to_numpy(dtype=np.int64)
    return np.lexsort((ids, month_rank))  # positions sorted by (month, id)


@dataclass(frozen=True)
class WindowPlan:
    tuning: np.ndarray  # boolean masks over the training set's rows
    validation: np.ndarray
    before_tuning: np.ndarray
    before_validation: np.ndarray


def _latest_block(frame: pd.DataFrame, candidates: np.ndarray) -> np.ndarray:
    """Among the candidate rows: the latest month's, or with no month among them, the latest tenth of the history."""
    months = pd.to_datetime(frame[MONTH_COLUMN])
    candidate_months = months[candidates].dropna()
    if len(candidate_months):
        return candidates & (months == candidate_months.max()).to_numpy()
    positions = _order(frame)
    ordered = positions[candidates[positions]]
    block = np.zeros(len(frame), dtype=bool)
    if len(ordered):
        block[ordered[int(len(ordered) * (1 - HISTORY_WINDOW_SHARE)) :]] = True
    return block


def _before(frame: pd.DataFrame, window: np.ndarray) -> np.ndarray:
    positions = _order(frame)
    rank = np.empty(len(frame), dtype=np.int64)
    rank[positions] = np.arange(len(frame))
    return rank < rank[window].min()


def plan_windows(frame: pd.DataFrame) -> WindowPlan:
    """The validation and tuning windows of a training set, and the rows before each."""
    everything = np.ones(len(frame), dtype=bool)
    validation = _latest_block(frame, everything)
    before_validation = _before(frame, validation)
    tuning = _latest_block(frame, before_validation)
    before_tuning = _before(frame, tuning) if tuning.any() else tuning
    if not tuning.any() or not before_tuning.any():
        raise ValueError("too few rows before the validation window to tune and fit a model")
    return WindowPlan(
        tuning=tuning, validation=validation, before_tuning=before_tuning, before_validation=before_validation
    )


def describe_window(frame: pd.DataFrame, mask: np.ndarray, name: str, role: str, used_for: str) -> Window:
    rows = frame.loc[mask, [ID_COLUMN, MONTH_COLUMN]]
    months = pd.to_datetime(rows[MONTH_COLUMN])
    history = rows.loc[months.isna().to_numpy(), ID_COLUMN]
    return Window(
        name=name,
        role=role,
        used_for=used_for,
        months=tuple(sorted(f"{month:%Y-%m}" for month in months.dropna().unique())),
        history_ids=(int(history.min()), int(history.max())) if len(history) else None,
        rows=int(mask.sum()),
    )


def training_windows(frame: pd.DataFrame, plan: WindowPlan) -> list[Window]:
    """Every window of the procedure, named as the model card names them."""
    everything = np.ones(len(frame), dtype=bool)
    return [
        describe_window(
            frame, plan.before_tuning, "tuning_fit", FIT, "tuning trials (on a sample) and the early-stopped fit"
        ),
        describe_window(
            frame,
            plan.tuning,
            "tuning",
            CHOICE,
            "hyper-parameters, early stopping (rounds) and calibration are chosen here",
        ),
        describe_window(
            frame,
            plan.before_validation,
            "validation_fit",
            FIT,
            "the validation model: chosen parameters and rounds, fitted on every row before the validation window",
        ),
        describe_window(
            frame,
            plan.validation,
            "validation",
            FIGURE,
            "every reported figure, the promotion comparison and the score-drift baseline",
        ),
        describe_window(
            frame,
            everything,
            "deployed_fit",
            FIT,
            "the model that scores: the same procedure on every row before the month",
        ),
    ]


def figures_untouched_by_choices(windows: list[Window]) -> bool:
    """True when no figure window overlaps a choice window or the fit of the model it judges."""
    figures = [window for window in windows if window.role == FIGURE]
    others = [window for window in windows if window.role == CHOICE or window.name == "validation_fit"]
    return all(not figure.overlaps(other) for figure in figures for other in others)
