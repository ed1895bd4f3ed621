"""The swap set of a champion/challenger change: who the challenger would decide differently, and how they repaid.

On the same labelled rows, both models' probabilities go through the same decision policy.
Swap-ins are applications the challenger approves and the champion did not; swap-outs the
reverse. Their default rates say whether the change lets in worse risks or turns away good ones.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ml.scoring import DEFAULT_POLICY, DecisionPolicy

APPROVE = "approve"


def _group(labels: np.ndarray, mask: np.ndarray) -> dict:
    count = int(mask.sum())
    return {"applications": count, "default_rate": round(float(labels[mask].mean()), 6) if count else None}


def swap_set(
    labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray, policy: DecisionPolicy = DEFAULT_POLICY
) -> dict:
    labels = np.asarray(labels, dtype=float)
    before, after = policy.decisions(np.asarray(champion)), policy.decisions(np.asarray(challenger))
    changed = before != after
    transitions = Counter(f"{old} -> {new}" for old, new in zip(before[changed], after[changed], strict=True))
    return {
        "rows": int(len(labels)),
        "review_from": policy.review_from,
        "decline_from": policy.decline_from,
        "changed": int(changed.sum()),
        "transitions": dict(sorted(transitions.items())),
        "swap_in": _group(labels, (before != APPROVE) & (after == APPROVE)),
        "swap_out": _group(labels, (before == APPROVE) & (after != APPROVE)),
        "champion_approved": _group(labels, before == APPROVE),
        "challenger_approved": _group(labels, after == APPROVE),
    }


def describe(swap: dict) -> str:
    """One line: how many decisions change, and the default rates of those swapped in and out."""

    def rate(group: dict) -> str:
        return "-" if group["default_rate"] is None else f"{group['default_rate']:.2%}"

    return (
        f"{swap['changed']:,} of {swap['rows']:,} decisions change; swapped in {swap['swap_in']['applications']:,} "
        f"(default rate {rate(swap['swap_in'])}), swapped out {swap['swap_out']['applications']:,} "
        f"(default rate {rate(swap['swap_out'])})"
    )
