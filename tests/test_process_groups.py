"""The process groups of `make test` (tests/conftest.py): each group runs whole in one process.

pytest-xdist is asked for its scheduler through its hook, and the parts of it reused here are
pinned, so an upgrade that moves them fails here instead of quietly splitting a group.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import xdist.newhooks
from xdist.scheduler import LoadScopeScheduling

from tests.conftest import LONGEST_FIRST, SHARED_FIXTURE_GROUPS, TESTS, group_of_node, process_group

pytest_plugins = ["pytester"]


def test_pytest_xdist_still_offers_what_the_groups_reuse():
    assert hasattr(xdist.newhooks, "pytest_xdist_make_scheduler")
    schedule = inspect.getsource(LoadScopeScheduling.schedule)
    assert "self._split_scope(" in schedule and "loadscopereorder" in schedule


def test_every_grouped_file_exists_and_belongs_to_one_group():
    files = [name for group in SHARED_FIXTURE_GROUPS.values() for name in group.files]
    assert len(files) == len(set(files))
    assert all((TESTS / name).is_file() for name in files)
    assert group_of_node("tests/system/test_delivery_page.py::test_x[1]") == "online_service"
    assert process_group("warehouse/test_atomic_files.py") == "warehouse/test_atomic_files.py"
    assert all(name in SHARED_FIXTURE_GROUPS or (TESTS / name).is_file() for name in LONGEST_FIRST)


def test_a_groups_files_run_in_one_process_and_first(pytester: pytest.Pytester):
    conftest = Path(__file__).with_name("conftest.py")
    pytester.makeconftest(
        f"""
        import importlib.util
        import sys
        spec = importlib.util.spec_from_file_location("project_conftest", {str(conftest)!r})
        project = sys.modules["project_conftest"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(project)
        pytest_xdist_make_scheduler = project.pytest_xdist_make_scheduler
        pytest_collection_modifyitems = project.pytest_collection_modifyitems
        """
    )
    test = "import os\n" + "".join(f"def test_{n}():\n    print(os.environ['PYTEST_XDIST_WORKER'])\n" for n in range(3))
    for name in ("test_online_service", "test_delivery_page", "test_month_runs"):
        pytester.makepyfile(**{f"tests/system/{name}": test})
    for name in ("test_a", "test_b", "test_c"):
        pytester.makepyfile(**{f"tests/other/{name}": test})
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=18)
    workers: dict[str, set[str]] = {}
    for match in re.finditer(r"\[(gw\d)\] .*?PASSED (tests/\S+)::", result.stdout.str()):
        workers.setdefault(match.group(2), set()).add(match.group(1))
    grouped = workers["tests/system/test_online_service.py"] | workers["tests/system/test_delivery_page.py"]
    assert len(grouped) == 1, f"one group, one process: {workers}"
    one_process = pytester.runpytest_subprocess("-n", "1", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    order = list(dict.fromkeys(re.findall(r"PASSED (tests/\S+)::", one_process.stdout.str())))
    online = {"tests/system/test_online_service.py", "tests/system/test_delivery_page.py"}
    assert order[0] == "tests/system/test_month_runs.py" and set(order[1:3]) == online, (
        f"the longest first, in LONGEST_FIRST's order, though collected after tests/other: {order}"
    )
