"""Reasoning then a final answer: extract: shows the checks the final answer, the report keeps the reasoning."""

from __future__ import annotations

import json

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import record_and_replay, script, write

REASONING = """
suite: eggs
model: gpt-4o-mini
prompt:
  system: Think step by step, then give the final answer on a line starting with 'Answer:'.
  user: "{{ q }}"
extract: {after: "Answer:"}
cases:
  - id: boxes
    vars: {q: "A box holds 6 eggs. How many eggs in 7 boxes?"}
    expect: [{equals: "42"}]
"""


def test_checks_see_the_extracted_answer_and_the_report_keeps_the_reasoning(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    script(demo, {"when": {"contains": "eggs"}, "reply": "Each box holds 6 eggs.\n6 x 7 = 42.\nAnswer: 42"})
    write(pytester, "suites/eggs.yaml", REASONING)
    record_and_replay(pytester, demo, passed=1)
    meta = cassettes.load(pytester.path / "cassettes/eggs/boxes.yaml").meta
    assert meta["answer"].startswith("Each box holds 6 eggs.") and meta["checked_text"] == "42"
    pytester.runpytest("--prompt-report=report.json").assert_outcomes(passed=1)
    (case,) = json.loads((pytester.path / "report.json").read_text())["cases"]
    assert case["answer"] == "Each box holds 6 eggs.\n6 x 7 = 42.\nAnswer: 42"  # the report keeps the reasoning


@pytest.mark.parametrize(
    ("reply", "lines"),
    [
        (
            "6 x 7 = 41.\nAnswer: 41",
            ["*FAIL equals*", "*checked (after extract / transform): '41'*", "*full answer:*", "*6 x 7 = 41.*"],
        ),
        (
            "It is forty-two.",
            ["*FAIL transform: after 'Answer:': no 'Answer:' in the answer; the checks saw the whole answer*"],
        ),
    ],
)
def test_a_wrong_or_unmarked_final_answer_fails(
    pytester: pytest.Pytester, demo: DemoServer, reply: str, lines: list[str]
) -> None:
    script(demo, {"when": {"contains": "eggs"}, "reply": reply})
    write(pytester, "suites/eggs.yaml", REASONING)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(lines)


# -- post-processing ------------------------------------------------------------------------
