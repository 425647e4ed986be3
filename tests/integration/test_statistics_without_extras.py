"""One verdict whatever is installed: the exact tests and intervals come from the standard library, equal
scipy's where it is installed, and a run with scipy hidden gives the same numbers, word for word."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from promptdrift.core.stats import binomial_p, fisher_p, wilson
from promptdrift.testing.demo import DemoServer
from promptdrift.verdict.paired import Outcome, compare
from tests.helpers import write


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 400), data=st.data())
def test_the_exact_binomial_test_is_scipys(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    expected = stats.binomtest(k, n, 0.5).pvalue if n else 1.0
    assert binomial_p(k, n) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=4, max_size=4))
def test_fishers_exact_test_is_scipys(table: list[int]) -> None:
    a, b, c, d = table
    expected = stats.fisher_exact([[a, b], [c, d]]).pvalue
    assert fisher_p(a, b, c, d) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 500), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_the_wilson_interval_is_scipys(n: int, data: st.DataObject, confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert wilson(k, n, confidence) == pytest.approx((expected.low, expected.high), rel=1e-9, abs=1e-12)


def flips(down: int, up: int, same: int = 0) -> list[Outcome]:
    """``down`` cases pass -> fail, ``up`` fail -> pass, ``same`` passing on both sides."""
    return (
        [Outcome(f"d{i}", 1, 1, 0, 1) for i in range(down)]
        + [Outcome(f"u{i}", 0, 1, 1, 1) for i in range(up)]
        + [Outcome(f"s{i}", 1, 1, 1, 1) for i in range(same)]
    )


@pytest.mark.parametrize("down", [0, 1, 2, 3])
@pytest.mark.parametrize("same", [0, 5, 40])
def test_three_discordant_cases_or_fewer_are_never_significant(down: int, same: int) -> None:
    result = compare("s", flips(down, 0, same))
    if result is None:
        return
    assert result.verdict == "within noise"
    assert result.mcnemar_p == pytest.approx(stats.binomtest(0, down, 0.5).pvalue if down else 1.0)


def test_two_cases_going_from_pass_to_fail_are_not_a_significant_drop() -> None:
    """The issue's pair: the interval reaches -34.2 points, the exact test says p = 0.5: within noise."""
    result = compare("s", flips(2, 0))
    assert result is not None
    assert result.rate.method == "Wilson interval (2 cases, all changed alike)"
    assert (round(result.rate.low * 100, 1), round(result.rate.high * 100, 1)) == (-100.0, -34.2)
    assert result.mcnemar_p == 0.5 and result.verdict == "within noise"
    assert "cannot reliably detect even a 100-point drop" in result.power_note()


def test_all_cases_moved_alike_are_significant_once_the_exact_test_can_say_so() -> None:
    assert compare("s", flips(5, 0)).verdict == "within noise"  # type: ignore[union-attr]  # p = 0.0625
    six = compare("s", flips(6, 0))
    assert six is not None and six.mcnemar_p == pytest.approx(0.03125) and six.verdict == "significant drop"
    assert compare("s", flips(0, 6)).verdict == "significant rise"  # type: ignore[union-attr]


def test_a_drop_smaller_than_the_detectable_one_is_not_called_significant() -> None:
    """Never "significant" beside "can only detect a drop of" more than it: both statements hold or neither."""
    for down, same in [(6, 0), (8, 40), (12, 100), (20, 200), (30, 400)]:
        result = compare("s", flips(down, 0, same))
        assert result is not None and result.detectable is not None
        significant = result.verdict == "significant drop"
        assert not significant or abs(result.rate.diff) >= result.detectable
        assert significant == (result.mcnemar_p < 0.05 and result.rate.high < 0 and result.detected)


def test_a_missing_p_value_is_not_testable_never_significant() -> None:
    result = compare("s", flips(30, 0, 10))
    assert result is not None and result.verdict == "significant drop"
    result.mcnemar_p = float("nan")
    assert result.verdict == "not testable" and not result.exact_agrees and result.drops(0.0) == []


def test_samples_are_judged_by_the_sign_test() -> None:
    fell = [Outcome(f"c{i}", 10, 10, 4, 10) for i in range(8)]
    result = compare("s", fell)
    assert result is not None and result.exact_test == "sign test"
    assert result.mcnemar_p == pytest.approx(stats.binomtest(0, 8, 0.5).pvalue)
    assert result.verdict == "significant drop"
    assert "sign test p=0.00781: significant drop" in result.lines()[0]


BLOCK_SCIPY = "import sys; sys.modules['scipy'] = None\n"

COMPARE = """
import json
from promptdrift.verdict.paired import Outcome, compare
cases = [Outcome(f"c{i}", int(i % 7 != 0), 1, int(i % 5 != 0), 1) for i in range(24)]
cases += [Outcome(f"s{i}", 9, 10, i % 10, 10, {"f1": i / 20}, {"f1": i / 25}) for i in range(12)]
print(json.dumps([compare("s", cases[:24]).to_dict(), compare("t", cases[24:]).to_dict()]))
"""


@pytest.mark.slow
def test_the_numbers_are_the_same_with_scipy_hidden() -> None:
    """The statistics never import scipy: hidden or not, the JSON of two comparisons is the same text."""
    hidden = subprocess.run([sys.executable, "-c", BLOCK_SCIPY + COMPARE], capture_output=True, text=True, check=True)
    shown = subprocess.run([sys.executable, "-c", COMPARE], capture_output=True, text=True, check=True)
    assert hidden.stdout == shown.stdout
    assert json.loads(hidden.stdout)[1]["exact_test"] == "sign test"


PAIR = {
    "rules": [
        {"when": {"model": "model-a", "contains": "A=fail"}, "reply": "no"},
        {"when": {"model": "model-b", "contains": "B=fail"}, "reply": "no"},
    ],
    "default": "ok",
}


def test_a_drift_verdict_run_reads_the_same_with_and_without_scipy(pytester: pytest.Pytester, demo: DemoServer) -> None:
    """Two cases going from pass to fail, re-recorded, judged by ``drift: {verdict: significant}``: the run
    with scipy hidden prints the same paired line and passes the same drift item."""
    from promptdrift.testing.demo import Script

    demo.script = Script.from_data(PAIR)
    write(
        pytester,
        "suites/pair.yaml",
        """
        suite: pair
        model: model-a
        prompt: {user: "Order {{ flags }}"}
        expect: [{contains: ok}]
        drift: {verdict: significant}
        cases:
          - {id: c0, vars: {flags: "A=pass B=fail"}}
          - {id: c1, vars: {flags: "A=pass B=fail"}}
        """,
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2, skipped=1)  # nothing to compare yet
    cassettes = pytester.path / "cassettes"
    shutil.copytree(cassettes, pytester.path / "model-a")
    shown = pytester.runpytest("--prompt-record=all", "--prompt-model=model-b")
    shutil.rmtree(cassettes)
    shutil.copytree(pytester.path / "model-a", cassettes)  # model A's answers again, then the same re-recording
    (pytester.path / "conftest.py").write_text(BLOCK_SCIPY)
    hidden = pytester.runpytest("--prompt-record=all", "--prompt-model=model-b")
    for result in (shown, hidden):
        result.assert_outcomes(passed=1, xfailed=2)
        result.stdout.fnmatch_lines(
            [
                "paired     pair: baseline -> re-recorded, 2 cases: pass rate 100.0% -> 0.0%, -100.0 points "
                "(95% CI -100.0 to -34.2, Wilson interval (2 cases, all changed alike)), McNemar p=0.5: within noise"
            ]
        )
