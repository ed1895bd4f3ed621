"""Is a model's probability what it says? Decided on one window, checked on another.

The decision is Spiegelhalter's z test on the tuning window's out-of-sample scores: under
perfect calibration, sum((y - p)(1 - 2p)) has mean 0 and a known variance, so a |z| beyond
1.96 says the probabilities are off at the 5 % level, whichever way. The correction is
Platt scaling on the log-odds, two numbers fitted on the same window (intercept moves the
level, slope the spread); it preserves the ranking, so AUC and reasons do not change, only
the probabilities and so the grades and decisions.

The check of the result is made on the validation window, which the correction never saw:
Brier score, calibration-in-the-large (the intercept that would still be needed with the
log-odds as they are) and the calibration slope (1 is ideal; below 1, scores too spread).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

# |z| above this (two-sided 5 %) counts as miscalibrated.
Z_LIMIT = 1.96
_EDGE = 1e-6  # keeps log-odds finite for probabilities of exactly 0 or 1


def _log_odds(probabilities: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(probabilities, dtype=float), _EDGE, 1 - _EDGE))


@dataclass(frozen=True)
class PlattScaling:
    intercept: float
    slope: float

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        return expit(self.intercept + self.slope * _log_odds(probabilities))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationCheck:
    z: float
    p_value: float
    mean_probability: float
    observed_rate: float
    correction: PlattScaling | None  # None: calibrated as it is

    @property
    def calibrated(self) -> bool:
        return self.correction is None

    def describe(self) -> str:
        verdict = "calibrated" if self.calibrated else "miscalibrated: corrected with Platt scaling"
        return (
            f"mean probability {self.mean_probability:.4f} vs observed {self.observed_rate:.4f}, "
            f"Spiegelhalter z {self.z:+.2f} (p {self.p_value:.3f}): {verdict}"
        )


def spiegelhalter_z(labels: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(np.asarray(probabilities, dtype=float), _EDGE, 1 - _EDGE)
    y = np.asarray(labels, dtype=float)
    numerator = np.sum((y - p) * (1 - 2 * p))
    variance = np.sum((1 - 2 * p) ** 2 * p * (1 - p))
    return float(numerator / np.sqrt(variance))


def fit_platt(labels: np.ndarray, probabilities: np.ndarray) -> PlattScaling:
    regression = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=200).fit(
        _log_odds(probabilities).reshape(-1, 1), np.asarray(labels)
    )
    return PlattScaling(intercept=float(regression.intercept_[0]), slope=float(regression.coef_[0, 0]))


def check_calibration(labels: np.ndarray, probabilities: np.ndarray, z_limit: float = Z_LIMIT) -> CalibrationCheck:
    z = spiegelhalter_z(labels, probabilities)
    correction = fit_platt(labels, probabilities) if abs(z) > z_limit else None
    return CalibrationCheck(
        z=round(z, 4),
        p_value=round(float(2 * norm.sf(abs(z))), 4),
        mean_probability=float(np.mean(probabilities)),
        observed_rate=float(np.mean(labels)),
        correction=correction,
    )


def calibration_intercept(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Calibration-in-the-large: the shift a of the log-odds that makes mean(expit(a + logit p)) the observed rate."""
    offset, y = _log_odds(probabilities), np.asarray(labels, dtype=float)
    shift = 0.0
    for _ in range(50):  # Newton's method on a one-dimensional, strictly monotone equation
        fitted = expit(shift + offset)
        step = np.sum(y - fitted) / max(np.sum(fitted * (1 - fitted)), 1e-12)
        shift += step
        if abs(step) < 1e-10:
            break
    return float(shift)


def calibration_slope(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The slope of the outcome's log-odds on the score's log-odds (Platt's slope); 1 is ideal."""
    return fit_platt(labels, probabilities).slope
