"""Applications sent as JSON, checked by the raw-file contract of a delivery, field by field.

A JSON application carries the raw file's column names (`SK_ID_CURR` included, `TARGET`
absent) and values, `null` for missing. Each field is checked as the loader checks a
delivery's (`warehouse.ingestion.contract_checks`): every required column present and no
column the contract does not know; an integer column holds a whole number, a decimal column a
finite number, a text column text, trimmed, an empty text being missing; the id present and
not sent twice. A value written as text in a numeric column is read as a delivery's field is:
`"12"` is 12, `"1_000"` and `"1.5"` (for an integer) are not numbers of the contract.
Every problem is reported at once, naming the application and the field; nothing is scored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from warehouse.database import raw_column_name
from warehouse.ingestion.contract import COLUMN_TYPES, INTEGER, KEY, LABEL, REQUIRED_COLUMNS, TEXT
from warehouse.online.features import Applications

MAX_APPLICATIONS = 1_000
# Beyond this a whole number no longer survives the loader's DOUBLE (2^53); the loader rejects it too.
LARGEST_WHOLE_NUMBER = 9e15


@dataclass(frozen=True)
class FieldProblem:
    application: int | None  # position in the request (0-based); None for the request as a whole
    field: str | None
    message: str

    def as_dict(self) -> dict:
        return {"application": self.application, "field": self.field, "problem": self.message}


class InvalidApplications(ValueError):
    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problems, first: {problems[0].message}")


# What DuckDB's DOUBLE cast reads, in ASCII (ASCII whitespace around it included): Python's
# float() also takes other scripts' digits and spaces, which the delivery check refuses.
_NUMBER_TEXT = re.compile(r"[ \t\n\v\f\r]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[ \t\n\v\f\r]*", re.ASCII)


def _number(value, sql_type: str) -> tuple[float | int | None, str | None]:
    """The typed value of a numeric field, or why it is not one (the delivery check's rules)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    if isinstance(value, str):
        text = value.strip(" ")  # DuckDB's trim: spaces only
        if not text:
            return None, None
        if not _NUMBER_TEXT.fullmatch(text):
            return None, f"{value!r} is not a number"
        value = float(text)
    if not isinstance(value, int | float):
        return None, f"{value!r} is not a number"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # a JSON integer too large for a DOUBLE
        finite = False
    if not finite:
        return None, f"{value!r} is not a number"
    if sql_type == INTEGER:
        if value != math.trunc(value) or abs(value) >= LARGEST_WHOLE_NUMBER:
            return None, f"{value!r} is not a whole number"
        return int(value), None
    return float(value), None


def _text(value) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, f"{value!r} is not text"
    return (value.strip(" ") or None), None  # as the loader's nullif(trim(x), ''): spaces only


def checked_applications(body: object, month: date, received_at: datetime) -> Applications:
    """The request's applications, typed; raises InvalidApplications listing every problem."""
    problems: list[FieldProblem] = []
    applications = body.get("applications") if isinstance(body, dict) else None
    if not isinstance(applications, list) or not applications:
        raise InvalidApplications([FieldProblem(None, "applications", "a non-empty list of applications is required")])
    if len(applications) > MAX_APPLICATIONS:
        raise InvalidApplications(
            [FieldProblem(None, "applications", f"{len(applications):,} applications: at most {MAX_APPLICATIONS:,}")]
        )
    values: dict[str, list] = {raw_column_name(name): [] for name in REQUIRED_COLUMNS}
    seen_ids: dict[int, int] = {}
    for position, application in enumerate(applications):
        if not isinstance(application, dict):
            problems.append(FieldProblem(position, None, "an application is a JSON object of column names and values"))
            continue
        if LABEL in application:
            problems.append(FieldProblem(position, LABEL, f"{LABEL} is the outcome: it is not sent to be scored"))
        problems.extend(
            FieldProblem(position, str(name), f"{name!r} is not a column of the raw-file contract")
            for name in application
            if name not in COLUMN_TYPES
        )
        for name in REQUIRED_COLUMNS:
            if name not in application:
                problems.append(FieldProblem(position, name, f"required column {name} is missing"))
                values[raw_column_name(name)].append(None)
                continue
            sql_type = COLUMN_TYPES[name]
            typed, problem = _text(application[name]) if sql_type == TEXT else _number(application[name], sql_type)
            if problem:
                problems.append(FieldProblem(position, name, f"{name}: {problem}"))
            values[raw_column_name(name)].append(typed)
        identifier = values[raw_column_name(KEY)][-1]
        if (
            KEY in application
            and identifier is None
            and not any(p.application == position and p.field == KEY for p in problems)
        ):
            problems.append(FieldProblem(position, KEY, f"{KEY} is empty"))
        elif identifier is not None:
            if identifier in seen_ids:
                problems.append(
                    FieldProblem(position, KEY, f"{KEY} {identifier} is also application {seen_ids[identifier]}")
                )
            seen_ids.setdefault(identifier, position)
    if problems:
        raise InvalidApplications(problems)
    return Applications(values, month, received_at)
