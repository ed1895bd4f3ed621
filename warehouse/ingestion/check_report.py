"""What a delivery check found: problems that reject the file, warnings that do not.

Every problem of every check is counted; the report lists the first
`EXAMPLES_PER_CHECK` of each kind, which is what a person fixing a file reads.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

EXAMPLES_PER_CHECK = 100


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file. `line` counts CSV records, the header being line 1."""

    check: str
    message: str
    line: int | None = None
    column: str | None = None
    value: str | None = None

    def describe(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


@dataclass
class DeliveryReport:
    """The outcome of checking one file against the raw-file contract."""

    file_name: str
    sha256: str
    kind: str | None = None
    month: str | None = None
    rows: int | None = None
    problem_counts: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    listed_counts: Counter = field(default_factory=Counter, repr=False)
    checked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def add(self, problem: Problem) -> None:
        """Count a problem, and list it while its check has fewer than `EXAMPLES_PER_CHECK` listed."""
        self.problem_counts[problem.check] += 1
        if self.listed_counts[problem.check] < EXAMPLES_PER_CHECK:
            self.listed_counts[problem.check] += 1
            self.problems.append(problem)

    def extend(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def listed(self, check: str | None = None) -> list[Problem]:
        """The listed problems, of one check or all, in file order within each check."""
        chosen = [problem for problem in self.problems if check is None or problem.check == check]
        return sorted(chosen, key=lambda problem: (problem.check, problem.line or 0))

    @property
    def rejected(self) -> bool:
        return bool(self.problem_counts)

    def summary(self, examples: int = 3) -> str:
        """A few lines for a terminal, a ledger row or a run log: each check, its count, first examples."""
        if not self.rejected:
            return f"{self.file_name}: no problems"
        total = sum(self.problem_counts.values())
        lines = [f"{self.file_name} rejected: {total:,} problem{'s' if total != 1 else ''}"]
        for check, count in self.problem_counts.most_common():
            lines.append(f"  {check} ({count:,}):")
            shown = self.listed(check)[:examples]
            lines.extend(f"    - {problem.describe()}" for problem in shown)
            if count > len(shown):
                lines.append(f"    - ... {count - len(shown):,} more")
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        return "\n".join(lines)

    def count_unlisted(self, check: str, count: int) -> None:
        """Count problems found by a query that returned only the first few of them."""
        self.problem_counts[check] += count

    def to_json(self, **extra: str) -> str:
        return json.dumps(
            {
                "file": self.file_name,
                **extra,
                "sha256": self.sha256,
                "kind": self.kind,
                "month": self.month,
                "rows_read": self.rows,
                "checked_at": self.checked_at,
                "status": "rejected" if self.rejected else "accepted",
                "problem_counts": dict(self.problem_counts.most_common()),
                "problems": [
                    {key: value for key, value in asdict(problem).items() if value is not None}
                    for problem in self.listed()
                ],
                "warnings": self.warnings,
            },
            indent=2,
            ensure_ascii=False,
        )
