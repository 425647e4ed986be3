"""Suite gates are items of their own, give per-label precision/recall, and agree under xdist."""

from __future__ import annotations

import pytest

from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import write

CLASSIFY = [
    {"when": {"contains": "charged twice"}, "reply": "billing"},
    {"when": {"contains": "invoice copy"}, "reply": "billing"},
    {"when": {"contains": "parcel lost"}, "reply": "billing"},  # wrong: shipping
    {"when": {"contains": "new address"}, "reply": "shipping"},
]

SUITE = """
suite: classify
model: gpt-4o-mini
prompt: {user: "{{ ticket }}"}
expect:
  - label: {labels: [billing, shipping, other], expected: "{{ label }}"}
cases:
  - {id: twice, vars: {ticket: "charged twice", label: billing}}
  - {id: copy, vars: {ticket: "invoice copy", label: billing}}
  - {id: lost, vars: {ticket: "parcel lost", label: shipping}}
  - {id: address, vars: {ticket: "new address", label: shipping}}
gate:
  pass_rate: {min: MIN_RATE}
  accuracy: {min: 0.7}
  mean: {label: {min: 0.5}}
"""


@pytest.fixture
def classify(pytester: pytest.Pytester, demo: DemoServer) -> DemoServer:
    demo.script = Script.from_data({"rules": CLASSIFY})
    return demo


def test_gates_are_items_with_verdicts(pytester: pytest.Pytester, classify: DemoServer) -> None:
    write(pytester, "suites/classify.yaml", SUITE.replace("MIN_RATE", "0.9"))
    result = pytester.runpytest("--prompt-record=new", "-v", "--junitxml=junit.xml")
    result.assert_outcomes(passed=5, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*suites/classify.yaml::gate?pass_rate? FAILED*",
            "*suites/classify.yaml::gate?accuracy? PASSED*",
            "*suites/classify.yaml::gate?mean-label? PASSED*",
            "*gate pass_rate failed: pass_rate 0.75 < min 0.9 (3 of 4 cases passed; failing: lost)*",
        ]
    )
    xml = (pytester.path / "junit.xml").read_text()
    assert 'name="gate[accuracy]"' in xml and '<property name="gate:accuracy" value="0.75"' in xml


def test_accuracy_gate_reports_per_label_precision_and_recall(pytester: pytest.Pytester, classify: DemoServer) -> None:
    write(
        pytester,
        "suites/classify.yaml",
        SUITE.replace("MIN_RATE", "0").replace("accuracy: {min: 0.7}", "accuracy: {min: 0.8}"),
    )
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(passed=5, failed=2)
    # By hand: predictions billing, billing, billing, shipping for truths billing, billing, shipping, shipping.
    # billing: precision 2/3, recall 2/2; shipping: precision 1/1, recall 1/2.
    result.stdout.fnmatch_lines(
        [
            "*gate accuracy failed: accuracy 0.75 < min 0.8 (3 of 4 labels correct; "
            "billing: P 0.67 R 1.00, shipping: P 1.00 R 0.50)*"
        ]
    )


@pytest.mark.slow
def test_gates_agree_with_and_without_xdist(
    pytester: pytest.Pytester, classify: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "suites/classify.yaml", SUITE.replace("MIN_RATE", "0.9"))
    pytester.runpytest("--prompt-record=new")
    classify.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    single = pytester.runpytest("-v", "-p", "no:randomly")
    parallel = pytester.runpytest("-v", "-n", "2")
    for result in (single, parallel):
        result.assert_outcomes(passed=5, failed=2)
        result.stdout.fnmatch_lines(["FAILED suites/classify.yaml::gate?pass_rate? - gate pass_rate failed*"])
    # A gate alone (its cases deselected) replays them itself and gives the same verdict.
    alone = pytester.runpytest("-k", "gate and accuracy")
    alone.assert_outcomes(passed=1, deselected=6)


def test_weights_and_min_score(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "suites/w.yaml",
        """
        suite: w
        model: gpt-4o-mini
        prompt: {user: "{{ q }}"}
        min_score: 0.75
        expect:
          - icontains: {value: "sorry", weight: 3}
        cases:
          - id: mostly          # 3 of 4 weight passes: 0.75
            vars: {q: "late"}
            expect: [{icontains: "banana"}]
          - id: strict          # the case's own min_score wins
            vars: {q: "late"}
            min_score: 1
            expect: [{icontains: "banana"}]
          - id: too-little      # 3 of 5
            vars: {q: "late"}
            expect: [{icontains: {value: "banana", weight: 2}}]
        """,
    )
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*w.yaml::mostly PASSED*",
            "*weighted score 0.75 < min_score 1; checks:*",
            "*weighted score 0.6 < min_score 0.75; checks:*",
        ]
    )


def test_bad_gates_are_suite_errors(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester, "suites/g.yaml", SUITE.replace("MIN_RATE", "0.9").replace("accuracy: {min: 0.7}", "recall: {min: 1}")
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown gate 'recall'; gates: pass_rate, mean, accuracy*"])
