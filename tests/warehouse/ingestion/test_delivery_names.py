"""Delivery names and months: only `initial.csv` and valid month files inside the partition range."""

from __future__ import annotations

from datetime import date

import pytest

from warehouse.database import UnsafeIdentifierError, quote_identifier
from warehouse.ingestion.delivery_names import DeliveryNameError, parse_delivery_name, parse_month

TODAY = date(2026, 11, 22)


def test_history_and_month_files_are_recognised():
    assert parse_delivery_name("initial.csv", TODAY).is_history
    assert parse_delivery_name("20201001.csv", TODAY).month == date(2020, 10, 1)
    assert parse_delivery_name("20261101.csv", TODAY).month == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("20201015.csv", "not a delivery name"),
        ("20201301.csv", "does not exist"),
        ("20200901.csv", "before the first monitored month"),
        ("20261201.csv", "later than this month"),
        ("2020-10-01.csv", "not a delivery name"),
        ("../20201001.csv", "not a delivery name"),
        ("20201001.csv; drop table raw.applications", "not a delivery name"),
        ("INITIAL.CSV", "not a delivery name"),
        ("20201001.txt", "not a delivery name"),
        ("20201001.csv\n", "not a delivery name"),  # an upload's file name can carry one
    ],
)
def test_other_names_are_rejected_with_the_reason(name, reason):
    with pytest.raises(DeliveryNameError, match=reason):
        parse_delivery_name(name, TODAY)


def test_months_from_the_command_line_and_partition_keys():
    assert parse_month("2020-11", TODAY) == date(2020, 11, 1)
    assert parse_month("2020-11-01", TODAY) == date(2020, 11, 1)
    for bad in ("2020-11-02", "2020/11", "11-2020", "2020-10'; --", "2019-12", "2030-01"):
        with pytest.raises(DeliveryNameError):
            parse_month(bad, TODAY)


def test_identifiers_must_be_plain_names():
    assert quote_identifier("amt_credit") == '"amt_credit"'
    for bad in ('amt"; drop table x; --', "a b", "1abc", "", "x.y", "amt_credit\n"):
        with pytest.raises(UnsafeIdentifierError):
            quote_identifier(bad)
