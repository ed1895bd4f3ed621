"""The score distribution a model was trained on, in fixed bins: what score drift (PSI) is measured against.

Bins are the deciles of the model's out-of-sample (calibrated) probabilities: its validation
model's scores on the validation window, which no fit of it saw. In-sample scores of the
refit would be tighter than any new month's, and bias score PSI upward.
A score belongs to the bin numbered by how many cuts lie strictly below it, the same rule
the drift mart uses in SQL, so Python and dbt bin a score identically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SCORE_BINS = 10


@dataclass(frozen=True)
class ScoreBaseline:
    cuts: list[float]  # ascending; bin i holds scores in (cuts[i-1], cuts[i]]
    shares: list[float]  # share of the reference scores in each bin, len(cuts) + 1 of them
    rows: int

    def as_dict(self) -> dict:
        return asdict(self)


def bin_index(cuts: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """How many cuts lie strictly below each score."""
    return np.searchsorted(cuts, scores, side="left")


def score_baseline(probabilities: np.ndarray, bins: int = SCORE_BINS) -> ScoreBaseline:
    # Distinct cuts only: a model with many tied scores gets fewer, wider bins, never empty duplicates.
    cuts = np.unique(np.quantile(probabilities, np.arange(1, bins) / bins))
    counts = np.bincount(bin_index(cuts, probabilities), minlength=len(cuts) + 1)
    return ScoreBaseline(
        cuts=[round(float(cut), 12) for cut in cuts],
        shares=[round(float(count) / len(probabilities), 8) for count in counts],
        rows=int(len(probabilities)),
    )
