"""The reports' parts on their own: the word diff, the SVG charts, each case's verdict, the Markdown's limit,
the terminal's one line for a comparison that did not move."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from promptdrift.text.worddiff import DELETED, INSERTED, SAME, side, word_diff
from promptdrift.verdict import charts, paired
from promptdrift.verdict.drift import CaseRecord, CheckDelta
from promptdrift.verdict.report import MARKDOWN_LIMIT, json_report, markdown, summary_lines
from promptdrift.verdict.summary import build, case_verdict
from tests.helpers import report_records

SVG = "{http://www.w3.org/2000/svg}"
WORDS = st.lists(st.sampled_from(["the", "order", "ships", "today", ",", ".", " ", "\n", "late", "é"]), max_size=40)


@given(before=WORDS.map("".join), after=WORDS.map("".join))
def test_a_word_diff_gives_back_both_texts(before: str, after: str) -> None:
    runs = word_diff(before, after)
    assert side(runs, "before") == before and side(runs, "after") == after
    assert all(text for _, text in runs)  # no empty run
    assert all(a[0] != b[0] for a, b in itertools.pairwise(runs))  # runs of one kind are joined


def test_a_word_diff_marks_only_the_changed_words() -> None:
    runs = word_diff("Your order ships today.", "Your order is delayed today.")
    assert runs == [(SAME, "Your order "), (DELETED, "ships"), (INSERTED, "is delayed"), (SAME, " today.")]


def test_a_huge_answer_is_diffed_up_to_a_bound_and_still_gives_both_texts_back() -> None:
    before, after = "word " * 20_000, "word " * 19_999 + "other "
    runs = word_diff(before, after)
    assert side(runs, "before") == before and side(runs, "after") == after


def _forest(rows: list[charts.ForestRow]) -> ET.Element:
    return ET.fromstring(charts.forest(rows))


def test_the_forest_plot_draws_each_interval_around_zero_with_the_detectable_drop() -> None:
    rows = [
        charts.ForestRow("support: v1 → v2", -12.0, -20.0, -4.0, 8.0, "significant drop"),
        charts.ForestRow("faq <b>&", 1.0, -3.0, 5.0, None, "within noise"),
    ]
    svg = _forest(rows)
    assert svg.get("data-chart") == "paired"
    zero = next(e for e in svg.iter(f"{SVG}line") if e.get("data-zero") is not None)
    x0 = float(zero.get("x1"))
    groups = [g for g in svg.iter(f"{SVG}g")]
    assert [g.get("data-row") for g in groups] == ["support: v1 → v2", "faq <b>&"]  # escaped, parsed back
    drop_line = groups[0].find(f"{SVG}line")
    low, high = float(drop_line.get("x1")), float(drop_line.get("x2"))
    dot = float(groups[0].find(f"{SVG}circle").get("cx"))
    assert low < dot < high < x0  # the whole interval is below zero
    rise_line = groups[1].find(f"{SVG}line")
    assert float(rise_line.get("x1")) < x0 < float(rise_line.get("x2"))  # this one straddles zero
    (shade,) = [e for e in svg.iter(f"{SVG}rect")]  # only the row that has a detectable drop
    assert shade.get("data-detectable") == "8.0"
    assert abs(float(shade.get("x")) + float(shade.get("width")) - x0) < 0.2  # from -8 points up to zero
    scale = (x0 - high) / 4.0  # points to pixels
    assert abs(float(shade.get("width")) - 8 * scale) < 0.5


def test_bars_are_proportional_and_a_missing_value_has_none() -> None:
    svg = ET.fromstring(charts.bars([("a", 2.0, "2"), ("b", 1.0, "1"), ("c", None, "-")], "cost", "cost"))
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1] and widths[2] == 0


def test_each_case_gets_the_worst_verdict_that_applies() -> None:
    def record(**fields) -> CaseRecord:
        return CaseRecord("s", "c", "s::c", fields.pop("status", "recorded"), fields.pop("passed", True), **fields)

    worse = CheckDelta("x", "regression")
    better = CheckDelta("y", "improvement")
    assert case_verdict(record(deltas=[worse, better], passed=False)) == "regression"
    assert case_verdict(record(status="drift", passed=False)) == "drift"
    assert case_verdict(record(passed=False, expected_failure=True)) == "xfail"
    assert case_verdict(record(passed=False)) == "fail"
    assert case_verdict(record(deltas=[better])) == "improvement"
    assert case_verdict(record()) == "pass"


def test_the_markdown_of_10000_cases_with_1000_regressions_fits_one_comment() -> None:
    records = report_records(10_000, 1_000, improvements=200, suites=40, drifted=60)
    text = markdown(build(records, []))
    assert len(text) <= MARKDOWN_LIMIT
    lines = text.splitlines()
    assert lines[0] == "# promptdrift report"
    assert (
        lines[2] == "**Fails: 1,000 regressions, 60 drifted prompts, 40 significant drops — 10,000 cases in 40 suites**"
    )
    assert "## Regressions (1000)" in text and "+950 more in the full report" in text
    listed = re.findall(r"^- `(suites/[^`]+)`", text, re.M)
    assert listed[:50] == [r.nodeid for r in records[:50]]  # the first 50, in the order of the records
    unchanged = {r.nodeid for r in records[1260:]}
    assert not unchanged & set(re.findall(r"`(suites/[^`]+)`", text))  # no unchanged case is listed
    assert "## Drifted prompts (60)" in text and "+10 more in the full report" in text
    assert "<details><summary>Improvements (200)</summary>" in text


def test_the_markdown_shortens_its_lists_before_it_would_pass_the_limit() -> None:
    records = report_records(3_000, 3_000, suites=3_000)  # 3,000 suites: the table alone would not fit
    text = markdown(build(records, []), limit=20_000)
    assert len(text) <= 20_000
    assert "more suites in the full report" in text and "## Regressions (3000)" in text


def test_the_json_report_carries_the_verdict_and_each_case_s_verdict() -> None:
    import json

    data = json.loads(json_report(build(report_records(30, 3, improvements=2), [])))
    assert data["verdict"].startswith("Fails: 3 regressions") and data["counts"]["improvement"] == 2
    assert [c["verdict"] for c in data["cases"][:6]] == ["regression"] * 3 + ["improvement"] * 2 + ["pass"]


def _comparison(after_flips: int) -> paired.Comparison:
    outcomes = [paired.Outcome(f"c{i}", 1, 1, 0 if i < after_flips else 1, 1, {}, {}) for i in range(40)]
    comparison = paired.compare("support", outcomes)
    assert comparison is not None
    return comparison


def test_a_comparison_that_did_not_move_is_one_terminal_line() -> None:
    still = _comparison(0).lines()
    assert len(still) == 1 and "no change" in still[0]
    assert len(_comparison(3).lines()) >= 3  # the detail stays for one that moved


def test_the_terminal_renders_the_same_summary() -> None:
    lines = summary_lines(build(report_records(20, 2), []))
    assert lines[1].split()[:4] == ["support", "20", "18", "2"]
    assert sum(line.startswith("REGRESSION ") for line in lines) == 2
