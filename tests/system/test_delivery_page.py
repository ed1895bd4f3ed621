"""The delivery page in a real browser: Playwright driving the system's Chromium against `credit serve`.

A person signs in with the token, uploads a good month file (accepted, now in the inbox) and a
bad one (its problems listed by line and column, nothing in the inbox), and downloads a
published month's scores.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.system.conftest import TOKEN

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `.ci/run` installs it (no browser downloads here)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it with apt-get install chromium")
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, online_service):
    context = browser.new_context(accept_downloads=True)
    signed_in = context.new_page()
    signed_in.goto(online_service.url + "/")
    signed_in.fill("input[name=token]", TOKEN)
    signed_in.click("input[type=submit]")
    signed_in.wait_for_selector("#months")
    yield signed_in
    context.close()


def test_a_wrong_token_does_not_sign_in(browser, online_service):
    context = browser.new_context()
    page = context.new_page()
    page.goto(online_service.url + "/")
    page.fill("input[name=token]", "not the token")
    page.click("input[type=submit]")
    assert "That token is not right" in page.content()
    assert page.query_selector("#months") is None
    context.close()


def test_the_page_shows_each_month_and_the_champion(page, online_service):
    october = page.locator("tr[data-month='2020-10']")
    assert october.locator(".state").inner_text() == "published"
    assert "model ready" in page.locator("tr[data-month='2020-11'] .state").inner_text()
    # The model the API answers with (the scoring tests may have swapped it): the same fact, shown.
    answering = json.loads(online_service.get("/readyz")[1])["model_version"]
    assert page.locator("#champion").inner_text().startswith(f"Champion {answering},")


def test_a_good_month_file_is_accepted_into_the_inbox(page, online_service, deliveries_dir, tmp_path):
    upload = tmp_path / "20201201.csv"
    shutil.copyfile(deliveries_dir / "20201201.csv", upload)
    page.set_input_files("input[type=file]", str(upload))
    page.click("input[value='Upload and check']")
    result = page.wait_for_selector("#result").inner_text()
    rows = len(pd.read_csv(upload, usecols=["SK_ID_CURR"]))
    assert "20201201.csv accepted" in result and f"{rows:,} rows" in result and "2020-12" in result
    assert (online_service.paths.inbox / "20201201.csv").read_bytes() == upload.read_bytes()
    assert not list((online_service.paths.root / "uploads").iterdir()), "nothing left behind"


def test_a_bad_file_shows_its_problems_by_line_and_column_and_never_reaches_the_inbox(
    page, online_service, deliveries_dir, tmp_path
):
    rows = list(csv.reader(io.StringIO((deliveries_dir / "20210101.csv").read_text(encoding="utf-8"))))
    header = rows[0]
    rows[2][header.index("AMT_CREDIT")] = "lots"  # line 3 of the file
    rows[4][header.index("CNT_CHILDREN")] = "1.5"  # line 5
    bad = tmp_path / "20210101.csv"
    with open(bad, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows[:6])
    inbox_before = sorted(path.name for path in online_service.paths.inbox.glob("*.csv"))
    page.set_input_files("input[type=file]", str(bad))
    page.click("input[value='Upload and check']")
    page.wait_for_selector("#problems")
    problems = [
        [cell.inner_text() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all("#problems tr")[1:]
    ]
    assert ["3", "AMT_CREDIT", "bad_value"] in [problem[:3] for problem in problems]
    assert ["5", "CNT_CHILDREN", "bad_value"] in [problem[:3] for problem in problems]
    assert "not accepted" in page.locator("#result").inner_text()
    assert sorted(path.name for path in online_service.paths.inbox.glob("*.csv")) == inbox_before


def test_a_published_months_scores_download_whole(page, online_service):
    with page.expect_download() as download:
        page.click("a[href='/months/2020-10/scores.csv']")
    saved = download.value.path()
    downloaded = pd.read_csv(saved)
    published = pd.read_csv(online_service.paths.outbox / "pred_20201001.csv")
    assert len(downloaded) == len(published) > 0
    pd.testing.assert_frame_equal(downloaded, published)
