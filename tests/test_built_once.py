"""`built_once` (tests/system/conftest.py): a month's stage is built by one test process, read by the rest."""

from __future__ import annotations

from datetime import date

import pytest

from tests.system.conftest import RunMonths, built_once
from warehouse.paths import DataPaths


class OneFolder:
    """A tmp_path_factory whose base is a folder of this test's own."""

    def __init__(self, base):
        self.base = base

    def getbasetemp(self):
        return self.base


@pytest.fixture
def factory(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the session's folder is the base itself
    return OneFolder(tmp_path)


def test_the_second_to_ask_reads_what_the_first_built(factory):
    builds = []

    def build(folder):
        builds.append(folder)
        return RunMonths(DataPaths(folder).create(), {date(2020, 10, 1): "run-a"}, {date(2020, 11, 1): "run-b"})

    first, second = built_once(factory, "stage", build), built_once(factory, "stage", build)
    assert len(builds) == 1 and first == second
    assert second.runs == {date(2020, 10, 1): "run-a"} and second.models == {date(2020, 11, 1): "run-b"}


def test_a_failed_build_fails_the_next_one_to_ask_at_once_with_its_error(factory):
    builds = []

    def build(folder):
        builds.append(folder)
        raise AssertionError("October's run failed: the dbt step")

    with pytest.raises(AssertionError):
        built_once(factory, "stage", build)
    with pytest.raises(pytest.fail.Exception, match="(?s)stage failed in another test process:.*the dbt step"):
        built_once(factory, "stage", build)
    assert len(builds) == 1, "not built again"
