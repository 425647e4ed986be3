"""The HTML report in a real browser: Debian's chromium driven by Playwright, from ``file://``, offline.

What a reviewer does: open the page, choose a verdict, read the count, open a regressed case and read both
answers and their word diff, find the chart; and without JavaScript, read the summary and the chart.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from promptdrift.testing.demo import DemoServer, Script
from promptdrift.verdict.report import html
from promptdrift.verdict.summary import build
from tests.helpers import UPGRADE_SCRIPT, UPGRADE_SUITE, report_records, write

pytestmark = pytest.mark.slow  # a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def _open(browser: Browser, path: Path, *, javascript: bool = True) -> Page:
    """The page from ``file://``; any request that is not the file itself fails the test."""
    page = browser.new_context(java_script_enabled=javascript).new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    if javascript:
        page.wait_for_function("document.body.dataset.ready === '1'")
    assert fetched == [path.as_uri()], fetched  # nothing fetched: no CDN, no network
    assert errors == []
    return page


def _count(page: Page) -> int:
    return int(page.inner_text("[data-visible-count]"))


def _visible(page: Page) -> list[str]:
    return page.eval_on_selector_all("tr[data-case]:not([hidden])", "rows => rows.map(r => r.dataset.case)")


def test_a_reviewer_filters_opens_a_regression_and_reads_the_word_diff(
    pytester: pytest.Pytester, demo: DemoServer, browser: Browser
) -> None:
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    pytester.runpytest("--prompt-record=new")
    pytester.runpytest("--prompt-record=all", "--prompt-model=model-v2", "--prompt-report=report.html")
    page = _open(browser, pytester.path / "report.html")
    assert page.inner_text("[data-verdict-line]") == "Fails: 2 regressions — 3 cases in 1 suite"
    # It opens on what needs attention: the two regressions, not the improved case.
    assert _count(page) == 2
    assert _visible(page) == ["suites/upgrade.yaml::extract", "suites/upgrade.yaml::summary"]
    page.select_option('select[data-filter="verdict"]', "improvement")
    assert _count(page) == 1 and _visible(page) == ["suites/upgrade.yaml::greeting"]
    page.select_option('select[data-filter="verdict"]', "all")
    assert _count(page) == 3
    page.select_option('select[data-filter="check"]', "schema")
    assert _visible(page) == ["suites/upgrade.yaml::extract"]
    page.select_option('select[data-filter="check"]', "")
    page.fill('input[data-filter="search"]', "PARCEL")  # over answers, whatever the case
    assert _visible(page) == ["suites/upgrade.yaml::summary"]
    page.fill('input[data-filter="search"]', "")

    page.click('tr[data-case="suites/upgrade.yaml::extract"] button.open')
    detail = page.locator('tr.detail[data-detail-for="suites/upgrade.yaml::extract"]')
    assert detail.locator('[data-answer="before"]').inner_text() == '{"total": 5}'
    assert detail.locator('[data-answer="after"]').inner_text() == '{"sum": 5}'
    assert detail.locator('[data-answer="before"] del').all_inner_texts() == ["total"]
    assert detail.locator('[data-answer="after"] ins').all_inner_texts() == ["sum"]
    assert detail.locator('tr[data-check="schema"]').inner_text().split("\t")[:3] == ["schema", "pass (1)", "fail (0)"]
    assert detail.locator(".msg pre").all_inner_texts() == ["invoice please"]  # the rendered prompt
    assert detail.locator("code.rerecord").inner_text() == ("pytest suites/upgrade.yaml::extract --prompt-record=all")
    assert page.locator('svg[data-chart="paired"] g[data-row]').count() == 1

    page.click('#cases th:has-text("case")')  # sort by case id, then back
    assert _visible(page)[0].endswith("::extract")
    page.click('#cases th:has-text("case")')
    assert _visible(page)[0].endswith("::summary")


def test_a_drifted_case_shows_the_request_diff(pytester: pytest.Pytester, demo: DemoServer, browser: Browser) -> None:
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    pytester.runpytest("--prompt-record=new")
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE.replace('{user: "{{ q }}"}', '{user: "Please: {{ q }}"}'))
    pytester.runpytest("--prompt-report=report.html").assert_outcomes(failed=3)
    page = _open(browser, pytester.path / "report.html")
    assert _count(page) == 3 and page.inner_text("[data-verdict-line]").startswith("Fails: 3 drifted prompts")
    page.click('tr[data-case="suites/upgrade.yaml::extract"] button.open')
    error = page.inner_text("tr.detail pre.error")
    assert error.startswith("prompt drift:") and "Please: invoice please" in error
    assert "Prompt drift: the request against its recording" in page.inner_text("tr.detail")


def test_2000_cases_with_100_regressions_the_filter_shows_exactly_those(browser: Browser, tmp_path: Path) -> None:
    records = report_records(2_000, 100, improvements=20)
    page_path = tmp_path / "report.html"
    page_path.write_text(html(build(records, [])), encoding="utf-8")
    page = _open(browser, page_path)
    assert _count(page) == 100  # needs attention: the regressions
    page.select_option('select[data-filter="verdict"]', "regression")
    assert _count(page) == 100 and sorted(_visible(page)) == sorted(r.nodeid for r in records[:100])
    page.click('#cases th:has-text("latency")')  # numbers sort as numbers: 100 ms before 149 ms
    latencies = page.eval_on_selector_all(
        "tr[data-case]:not([hidden]) td:nth-child(8)", "cells => cells.map(c => parseFloat(c.dataset.v))"
    )
    assert latencies == sorted(latencies) and latencies[0] == 100.0 and latencies[-1] == 149.0
    page.click('#cases th:has-text("latency")')
    assert page.inner_text("tr[data-case]:not([hidden]) td:nth-child(8)") == "149 ms"
    page.select_option('select[data-filter="verdict"]', "pass")
    assert _count(page) == 1_880
    page.select_option('select[data-filter="verdict"]', "all")
    page.fill('input[data-filter="search"]', "order 1999 ships")
    assert _visible(page) == ["suites/support.yaml::c01999"]


def test_without_javascript_the_summary_chart_and_every_case_are_there(
    pytester: pytest.Pytester, browser: Browser
) -> None:
    records = report_records(40, 4)
    path = pytester.path / "report.html"
    path.write_text(html(build(records, [])), encoding="utf-8")
    page = _open(browser, path, javascript=False)
    assert page.inner_text("[data-verdict-line]").startswith("Fails: 4 regressions")
    assert page.locator('svg[data-chart="paired"]').is_visible()
    assert page.locator("#summary tbody tr").count() == 1
    assert page.locator("tr[data-case]:visible").count() == 40  # nothing hidden: the filters need JavaScript


def test_a_hostile_answer_stays_text(browser: Browser, tmp_path: Path) -> None:
    (record,) = report_records(1, 1)
    record.answer = "</script><script>document.title='owned'</script><img src=x onerror=alert(1)>"
    record.case = record.nodeid = "<b>id</b>"
    path = tmp_path / "report.html"
    path.write_text(html(build([record], [])), encoding="utf-8")
    page = _open(browser, path)
    assert page.title() == "promptdrift report"
    page.click("button.open")
    assert page.inner_text('[data-answer="after"]') == record.answer
    assert page.locator("tr.detail img").count() == 0


def test_a_run_with_nothing_to_look_at_opens_on_every_case(browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(html(build(report_records(5, 0), [])), encoding="utf-8")
    page = _open(browser, path)
    assert page.input_value('select[data-filter="verdict"]') == "all" and _count(page) == 5
    assert page.inner_text("[data-verdict-line]") == "Passes: 5 cases in 1 suite, no regression"
