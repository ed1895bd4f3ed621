"""What a data scientist may change about training: the config, the search space and the binning.

Apart from `ml.training`, so that the Dagster definitions and the launchpad can show the
config without loading LightGBM's training code or Optuna.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ml.score_baseline import SCORE_BINS
from warehouse.fair_lending import protected_attributes, validated_attributes

# The search space; a warm start outside it is clipped into it.
SEARCH_SPACE = {
    # From 0.06: lower rates bought no validation AUC here and doubled the rounds of both full fits.
    "learning_rate": (0.06, 0.25, True),
    "num_leaves": (8, 64, True),
    "min_child_samples": (20, 400, True),
    "feature_fraction": (0.2, 0.9, False),
    "bagging_fraction": (0.6, 1.0, False),
    "lambda_l2": (1e-3, 30.0, True),
}
INTEGER_PARAMS = {"num_leaves", "min_child_samples"}
MAX_BIN = 63


@dataclass(frozen=True)
class TrainingConfig:
    """What a data scientist may change; it is part of the model card and of the reuse key."""

    n_trials: int = 10
    timeout_seconds: int = 900
    tuning_rows: int = 40_000
    max_rounds: int = 2_000
    early_stopping_rounds: int = 50
    seed: int = 42
    num_threads: int = 2
    # Never a feature, a tuning input or a reason (contract names); default from dbt_project.yml's vars.
    protected_attributes: tuple[str, ...] = field(default_factory=protected_attributes)

    def __post_init__(self) -> None:
        if self.n_trials < 1 or self.timeout_seconds <= 0 or self.tuning_rows < 1_000:
            raise ValueError(f"need n_trials >= 1, timeout_seconds > 0 and tuning_rows >= 1000, got {self}")
        object.__setattr__(self, "protected_attributes", validated_attributes(self.protected_attributes))

    def as_dict(self) -> dict:
        # The search space and binning go into the card and the reuse key too: a model is not
        # reused after a code change that would train it differently.
        space = {name: list(bounds) for name, bounds in SEARCH_SPACE.items()}
        return {
            **asdict(self),
            "protected_attributes": list(self.protected_attributes),
            "search_space": space,
            "max_bin": MAX_BIN,
            "score_bins": SCORE_BINS,
        }
