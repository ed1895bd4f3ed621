"""A published decision, recomputed: the stored model version on the application's features and raw values.

What an auditor or an adverse-action review asks: which model decided, what it said, and
whether that model still says the same from what the warehouse holds. A difference means
the application's delivery was replaced since it was scored, or the stored model changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ml.dataset import applicant_values, feature_rows
from ml.explanations import REASON_COUNT
from ml.model_store import load_model, model_dir
from ml.scoring import DecisionPolicy, score

PROBABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class DecisionAudit:
    published: dict
    recomputed: dict | None
    model_path: Path
    differences: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.recomputed is not None and not self.differences


def reasons_of(decision: dict) -> list[tuple[str, str]]:
    """(code, text) of each reason a decision gave, in order."""
    return [
        (decision[f"reason_code_{slot}"], decision[f"reason_{slot}"])
        for slot in range(1, REASON_COUNT + 1)
        if decision.get(f"reason_code_{slot}") is not None
    ]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def audit_decision(connection: duckdb.DuckDBPyConnection, sk_id_curr: int, models_root: Path) -> DecisionAudit:
    rows = connection.execute("select * from scoring.predictions where sk_id_curr = ?", [sk_id_curr]).df()
    if rows.empty:
        raise LookupError(f"application {sk_id_curr} was never scored")
    published = {key: (None if _missing(value) else value) for key, value in rows.iloc[0].to_dict().items()}
    version = published["model_version"]
    booster, card = load_model(models_root, version)
    features = feature_rows(connection, [sk_id_curr])
    if features.empty:
        return DecisionAudit(
            published, None, model_dir(models_root, version), ["the application is no longer in the feature mart"]
        )
    policy = DecisionPolicy(review_from=published["review_from"], decline_from=published["decline_from"])
    scored = score(
        booster,
        features,
        card.feature_names,
        version,
        policy,
        card.platt_scaling,
        applicant_values(connection, ids=[sk_id_curr]),
    )
    recomputed = {key: (None if _missing(value) else value) for key, value in scored.iloc[0].to_dict().items()}
    differences = []
    if abs(recomputed["default_probability"] - published["default_probability"]) > PROBABILITY_TOLERANCE:
        differences.append(
            f"probability {recomputed['default_probability']:.9f} vs published {published['default_probability']:.9f}"
        )
    for column in ("risk_grade", "decision"):
        if recomputed[column] != published[column]:
            differences.append(f"{column} {recomputed[column]} vs published {published[column]}")
    published_reasons, recomputed_reasons = reasons_of(published), reasons_of(recomputed)
    # A policy that gave fewer reasons publishes a prefix of the recomputed list.
    if recomputed_reasons[: len(published_reasons)] != published_reasons:
        differences.append(f"reasons {recomputed_reasons} vs published {published_reasons}")
    return DecisionAudit(published, recomputed, model_dir(models_root, version), differences)
