"""Re-recording against another model, judged with error bars.

A scripted pair of models on the demo server: each case's prompt says which
model fails it, so model A and model B pass exactly the share of cases the
test chooses. Recorded with A, re-recorded with B.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import write

PAIR = {
    "rules": [
        {"when": {"model": "model-a", "contains": "A=fail"}, "reply": "no"},
        {"when": {"model": "model-b", "contains": "B=fail"}, "reply": "no"},
    ],
    "default": "ok",
}


def suite(pytester: pytest.Pytester, fails_a: set[int], fails_b: set[int], n: int, drift: str = "") -> None:
    lines = []
    for i in range(n):
        flags = f"A={'fail' if i in fails_a else 'pass'} B={'fail' if i in fails_b else 'pass'}"
        lines.append(json.dumps({"id": f"c{i:03d}", "vars": {"flags": flags}}))
    write(pytester, "fixtures/pair.jsonl", "\n".join(lines) + "\n")
    write(
        pytester,
        "suites/pair.yaml",
        f"""
        suite: pair
        model: model-a
        prompt: {{user: "Order {{{{ flags }}}}"}}
        expect: [{{contains: ok}}]
        cases: fixtures/pair.jsonl
        {drift}
        """,
    )


def record_then_switch(pytester: pytest.Pytester, demo: DemoServer, *args: str) -> pytest.RunResult:
    demo.script = Script.from_data(PAIR)
    pytester.runpytest("--prompt-record=new", "-p", "no:randomly")
    return pytester.runpytest("--prompt-record=all", "--prompt-model=model-b", "--prompt-report=r.json", *args)


def comparison(pytester: pytest.Pytester) -> dict:
    (only,) = json.loads((pytester.path / "r.json").read_text())["comparisons"]
    return only


# Model A fails 16 of 200 (92 %), model B 40 of 200 (80 %).
A_200 = {i for i in range(200) if i % 25 in (0, 1)}
B_200 = {i for i in range(200) if i % 5 == 0}


def test_a_real_drop_on_200_cases_is_significant(pytester: pytest.Pytester, demo: DemoServer) -> None:
    suite(pytester, A_200, B_200, 200)
    result = record_then_switch(pytester, demo)
    down = len(B_200 - A_200)
    up = len(A_200 - B_200)
    # The strict default: each case that fails now fails (its flips are regressions), as before this change.
    result.assert_outcomes(passed=200 - len(B_200), failed=len(B_200))
    found = comparison(pytester)
    assert (found["rate_before"], found["rate_after"]) == (0.92, 0.80)
    assert found["verdict"] == "significant drop"
    assert found["mcnemar_p"] == pytest.approx(stats.binomtest(min(down, up), down + up).pvalue)
    assert found["rate"]["high"] < 0 and found["rate"]["method"] == "central limit"
    assert len(found["flipped_down"]) == down and len(found["flipped_up"]) == up
    rate = found["rate"]
    result.stdout.fnmatch_lines(
        [
            f"paired     pair: baseline -> re-recorded, 200 cases: pass rate 92.0% -> 80.0%, "
            f"{rate['diff'] * 100:+.1f} points (95% CI {rate['low'] * 100:+.1f} to {rate['high'] * 100:+.1f}, "
            f"central limit), McNemar p={found['mcnemar_p']:.3g}: significant drop",
        ]
    )


def test_the_significant_verdict_fails_the_run_on_a_real_drop_and_lists_flips_as_xfail(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    suite(pytester, A_200, B_200, 200, "drift: {verdict: significant, max_drop: 0.02}")
    result = record_then_switch(pytester, demo)
    down = len(B_200 - A_200)
    result.assert_outcomes(passed=200 - len(B_200), xfailed=len(B_200), failed=1)  # failed: the drift item
    result.stdout.fnmatch_lines(["*_ pair::drift _*", "pass rate -12.0 points*more than the allowed drop of 2 points"])
    assert comparison(pytester)["flipped_down"][:1] == [f"c{min(B_200 - A_200):03d}"]
    assert down > 0


def test_the_same_pair_on_20_cases_is_within_noise_and_says_what_it_could_detect(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    suite(pytester, {0, 1}, {0, 5, 10, 15}, 20, "drift: {verdict: significant}")
    result = record_then_switch(pytester, demo)
    result.assert_outcomes(passed=16 + 1, xfailed=4)  # the drift item passes: within noise
    found = comparison(pytester)
    assert found["verdict"] == "within noise" and found["rate"]["method"] == "paired bootstrap (20 cases < 30)"
    assert found["detectable_drop"] > 0.2
    result.stdout.fnmatch_lines(["*with 20 cases this comparison can only detect a drop of * points*"])


def test_equal_rates_with_ten_flips_each_way(pytester: pytest.Pytester, demo: DemoServer) -> None:
    fails_a = set(range(0, 20, 2))  # 10 cases
    fails_b = set(range(1, 20, 2))  # 10 others: the same rate, 20 flips
    suite(pytester, fails_a, fails_b, 200, "drift: {verdict: significant, max_drop: 0.02}")
    result = record_then_switch(pytester, demo)
    result.assert_outcomes(passed=190 + 1, xfailed=10)  # no regression under the statistical verdict
    found = comparison(pytester)
    assert found["rate"]["diff"] == 0 and found["mcnemar_p"] == pytest.approx(1.0)
    assert len(found["flipped_down"]) == 10 and len(found["flipped_up"]) == 10
    result.stdout.fnmatch_lines(["*flipped: 10 pass->fail (c001, c003, c005, c007, c009, +5 more), 10 fail->pass*"])
    report = json.loads((pytester.path / "r.json").read_text())  # the report's verdict agrees with the run's
    assert report["verdict"] == (
        "Passes: 200 cases in 1 suite, 10 improvements, 10 regressed cases within their suite's noise"
    )
    assert sum(c["verdict"] == "regression" for c in report["cases"]) == 10


def test_equal_rates_fail_case_by_case_under_the_strict_default(pytester: pytest.Pytester, demo: DemoServer) -> None:
    suite(pytester, set(range(0, 20, 2)), set(range(1, 20, 2)), 40)
    result = record_then_switch(pytester, demo)
    result.assert_outcomes(passed=30, failed=10)


def test_the_cli_twin_sets_the_verdict_for_suites_without_one(pytester: pytest.Pytester, demo: DemoServer) -> None:
    suite(pytester, A_200, B_200, 200)
    result = record_then_switch(pytester, demo, "--prompt-drift-verdict=significant", "--prompt-drift-max-drop=0.5")
    result.assert_outcomes(passed=200 - len(B_200) + 1, xfailed=len(B_200))  # a 12-point drop is allowed here


def test_reports_show_the_same_figures(pytester: pytest.Pytester, demo: DemoServer) -> None:
    suite(pytester, A_200, B_200, 200)
    record_then_switch(pytester, demo, "--prompt-report=r.md", "--prompt-report=r.html")
    found = comparison(pytester)
    rate = found["rate"]
    cell = f"{rate['diff'] * 100:+.1f} pts [{rate['low'] * 100:+.1f}, {rate['high'] * 100:+.1f}] (central limit)"
    p = f"{found['mcnemar_p']:.3g}"
    markdown = (Path(pytester.path) / "r.md").read_text()
    assert f"| pair | 200 | 92.0% → 80.0% | {cell} | {p} | significant drop |" in markdown
    html = (Path(pytester.path) / "r.html").read_text()
    assert f"<td>{cell}</td><td>{p}</td><td>significant drop</td>" in html


def test_a_malformed_drift_block_names_the_file(pytester: pytest.Pytester) -> None:
    suite(pytester, set(), set(), 2, "drift: {verdict: maybe}")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*suites/pair.yaml:*drift verdict must be one of strict, significant*"])
