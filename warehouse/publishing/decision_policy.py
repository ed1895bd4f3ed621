"""The decision policy the latest month was scored with, published for the online service.

`serving/decision_policy.json`: the month, the review and decline thresholds and the number of
reasons a decision gives (the run's `DecisionConfig`). Written, whole, by the scoring step each
month; the online service decides with exactly this policy, as the batch did.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from warehouse.atomic_files import atomic_write_text

POLICY_FILE = "decision_policy.json"


def write_decision_policy(
    serving: Path, month: date, review_from: float, decline_from: float, reasons: int
) -> Path | None:
    """Publish the month's policy, unless a later month's is published (an earlier month run again)."""
    serving.mkdir(parents=True, exist_ok=True)
    published = read_decision_policy(serving)
    if published and published["month"] > f"{month:%Y-%m}":
        return None
    policy = {"month": f"{month:%Y-%m}", "review_from": review_from, "decline_from": decline_from, "reasons": reasons}
    return atomic_write_text(serving / POLICY_FILE, json.dumps(policy, indent=2) + "\n")


def read_decision_policy(serving: Path) -> dict | None:
    """The published policy, or None when no month has been scored since it was first published."""
    path = serving / POLICY_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
