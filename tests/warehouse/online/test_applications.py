"""A JSON application is judged by the raw-file contract as a delivery's row is, and every problem names its field."""

from __future__ import annotations

import csv
from datetime import date, datetime

import pytest

from warehouse.ingestion.contract import COLUMN_TYPES, INTEGER, KEY, LABEL, REQUIRED_COLUMNS, TEXT
from warehouse.ingestion.loader import check_file
from warehouse.online.applications import MAX_APPLICATIONS, InvalidApplications, checked_applications

MONTH, NOW = date(2020, 11, 1), datetime(2020, 11, 5, 12)


def good_application(identifier: int = 100001) -> dict:
    values = {INTEGER: 1, TEXT: "Cash loans"}
    application = {name: values.get(COLUMN_TYPES[name], 0.25) for name in REQUIRED_COLUMNS}
    application[KEY] = identifier
    return application


def _delivery_verdict(tmp_path, name: str, value) -> bool:
    """Whether the loader's check accepts the same value in a delivered file."""
    row = {column: str(value) for column, value in good_application().items()}
    row[name] = "" if value is None else (value if isinstance(value, str) else repr(value))
    path = tmp_path / "20201101.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return not check_file(path).rejected


def _online_verdict(name: str, value) -> tuple[bool, list]:
    application = good_application()
    application[name] = value
    try:
        checked_applications({"applications": [application]}, MONTH, NOW)
    except InvalidApplications as invalid:
        return False, invalid.problems
    return True, []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CNT_CHILDREN", 2),
        ("CNT_CHILDREN", 2.0),
        ("CNT_CHILDREN", "3"),
        ("CNT_CHILDREN", 1.5),
        ("CNT_CHILDREN", "1_000"),
        ("CNT_CHILDREN", "two"),
        ("DAYS_BIRTH", -12000),
        ("DAYS_BIRTH", 1e16),
        ("AMT_CREDIT", 1e400),
        ("AMT_CREDIT", "nan"),
        ("AMT_CREDIT", " 450000.5 "),
        ("AMT_CREDIT", None),
        ("AMT_CREDIT", ""),
        ("EXT_SOURCE_1", "0.5x"),
        ("NAME_CONTRACT_TYPE", "Revolving loans"),
        ("NAME_CONTRACT_TYPE", None),
        ("NAME_CONTRACT_TYPE", "a level never seen"),
        ("CNT_CHILDREN", "１２"),  # other scripts' digits: Python reads them, DuckDB does not
        ("AMT_CREDIT", "+3"),
        ("AMT_CREDIT", "1."),
        ("AMT_CREDIT", ".5"),
        ("AMT_CREDIT", "1e3"),
        ("AMT_CREDIT", "1,5"),
        ("AMT_CREDIT", "\t1"),
        ("AMT_CREDIT", 10**400),
        (KEY, "100002"),
        (KEY, 100001.5),
    ],
)
def test_a_field_is_accepted_online_exactly_when_a_delivery_accepts_it(tmp_path, name, value):
    accepted, problems = _online_verdict(name, value)
    assert accepted == _delivery_verdict(tmp_path, name, value)
    assert all(problem.field == name for problem in problems), problems


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda a: a.update({LABEL: 0}), LABEL),
        (lambda a: a.update({"AMT_CREDITT": 1.0}), "AMT_CREDITT"),
        (lambda a: a.pop("AMT_ANNUITY"), "AMT_ANNUITY"),
        (lambda a: a.update({KEY: None}), KEY),
        (lambda a: a.update({"NAME_CONTRACT_TYPE": 5}), "NAME_CONTRACT_TYPE"),
        (lambda a: a.update({"FLAG_MOBIL": True}), "FLAG_MOBIL"),
    ],
)
def test_each_problem_names_its_application_and_field(change, field):
    bad = good_application(100002)
    change(bad)
    with pytest.raises(InvalidApplications) as invalid:
        checked_applications({"applications": [good_application(100001), bad]}, MONTH, NOW)
    assert [(problem.application, problem.field) for problem in invalid.value.problems] == [(1, field)]


def test_every_problem_of_a_request_is_reported_at_once_and_an_id_sent_twice_is_one():
    first, second = good_application(7), good_application(7)
    second["CNT_CHILDREN"] = "many"
    with pytest.raises(InvalidApplications) as invalid:
        checked_applications({"applications": [first, second]}, MONTH, NOW)
    assert sorted((p.application, p.field) for p in invalid.value.problems) == [(1, "CNT_CHILDREN"), (1, KEY)]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"applications": []},
        {"applications": "x"},
        [],
        {"applications": [good_application()] * (MAX_APPLICATIONS + 1)},
    ],
)
def test_a_request_without_one_to_a_thousand_applications_is_refused(body):
    with pytest.raises(InvalidApplications) as invalid:
        checked_applications(body, MONTH, NOW)
    assert invalid.value.problems[0].field == "applications"


def test_text_is_trimmed_of_spaces_only_as_the_loader_trims_it(tmp_path):
    application = good_application()
    application["NAME_CONTRACT_TYPE"] = "Cash loans\t"
    checked = checked_applications({"applications": [application]}, MONTH, NOW)
    assert checked.values["name_contract_type"] == ["Cash loans\t"], "a tab is kept, so the level is one never seen"


def test_good_applications_come_back_typed_and_trimmed_in_request_order():
    first, second = good_application(9), good_application(3)
    first["NAME_CONTRACT_TYPE"], second["NAME_CONTRACT_TYPE"] = "  Revolving loans ", "   "
    second["CNT_CHILDREN"] = "2"
    checked = checked_applications({"applications": [first, second]}, MONTH, NOW)
    assert checked.values["sk_id_curr"] == [9, 3]
    assert checked.values["name_contract_type"] == ["Revolving loans", None]
    assert checked.values["cnt_children"] == [1, 2] and isinstance(checked.values["cnt_children"][1], int)
