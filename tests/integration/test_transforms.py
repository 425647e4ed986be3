"""Post-processing before the checks: the transform: chain, each step, and function steps from the repository."""

from __future__ import annotations

import json

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.run.transform import StepFailed
from promptdrift.run.transform import apply as apply_steps
from promptdrift.suite.transform import parse_steps
from promptdrift.testing.demo import DemoServer
from tests.helpers import record_and_replay, script, write

EXTRACTION = """
suite: extract
model: gpt-4o-mini
prompt: {user: "Extract the order from: {{ text }}"}
transform: [strip, json]
cases:
  - id: fenced
    vars: {text: "Two lamps, order B-77"}
    expect:
      - schema: {type: object, required: [order_id, qty], properties: {qty: {type: integer}}}
      - json_path: {path: "$.qty", equals: 2}
  - id: shouted
    vars: {text: "ORDER C-1"}
    transform: [{regex: 'id: (\\S+)'}, lowercase, {function: "shop_rules:without_dashes"}]
    expect: [{equals: "c1"}]
"""
SHOP_RULES = """
def without_dashes(text):
    return text.replace("-", "")
"""


def test_a_transform_chain_shapes_the_answer_before_the_checks(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo,
        {"when": {"contains": "lamps"}, "reply": 'Here you go:\n```json\n{"order_id": "B-77", "qty": 2}\n```\n'},
        {"when": {"contains": "ORDER C-1"}, "reply": "Found it, id: C-1"},
    )
    write(pytester, "suites/extract.yaml", EXTRACTION)
    write(pytester, "shop_rules.py", SHOP_RULES)
    record_and_replay(pytester, demo, passed=2)
    meta = cassettes.load(pytester.path / "cassettes/extract/fenced.yaml").meta
    assert meta["answer"].startswith("Here you go:") and json.loads(meta["checked_text"]) == {
        "order_id": "B-77",
        "qty": 2,
    }


def test_a_transform_that_cannot_apply_fails_with_its_step(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo,
        {"when": {"contains": "lamps"}, "reply": "I could not find an order."},
        {"when": {"contains": "C-1"}, "reply": "nothing"},
    )
    write(pytester, "suites/extract.yaml", EXTRACTION)
    write(pytester, "shop_rules.py", SHOP_RULES)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*FAIL transform: json: not JSON*", "*FAIL transform: regex 'id: (\\\\S+)': no match in the answer*"]
    )


def test_a_missing_transform_function_names_the_step(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, {"when": {"contains": "C-1"}, "reply": "id: C-1"})
    write(pytester, "suites/extract.yaml", EXTRACTION)
    result = pytester.runpytest("--prompt-record=new", "-k", "shouted")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL transform: function 'shop_rules:without_dashes': cannot use 'shop_rules:without_dashes': no module shop_rules.py in the repository*"
        ]
    )


def test_a_transform_function_must_live_in_the_repository(pytester: pytest.Pytester, demo: DemoServer) -> None:
    """A suite (perhaps from an untrusted pull request) cannot run library code such as os:system on an answer."""
    script(demo, {"when": {"contains": "C-1"}, "reply": "Found it, id: C-1"})
    write(pytester, "suites/extract.yaml", EXTRACTION.replace("shop_rules:without_dashes", "os:system"))
    result = pytester.runpytest("--prompt-record=new", "-k", "shouted")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot use 'os:system': no module os.py in the repository*"])


# -- tool calls ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "text", "expected"),
    [
        ([{"after": "Answer:"}], "6 x 7 = 42\nAnswer: 42 ", "42"),
        ([{"regex": r"total: (\d+)"}], "the total: 17 EUR", "17"),
        ([{"regex": r"\d+ EUR"}], "the total: 17 EUR", "17 EUR"),
        ([{"json_path": "$.answer"}], '{"answer": "yes", "why": "..."}', "yes"),
        ([{"json_path": "$.items[0]"}], '{"items": [{"a": 1}]}', '{"a": 1}'),
        (["last_line"], "step 1\nstep 2\n\n  final  \n", "final"),
        (["json"], 'Sure:\n```json\n{"a": 1}\n```', '{"a": 1}'),
        (["json"], ' {"a": 1} ', '{"a": 1}'),
        (["strip", "lowercase"], "  YES \n", "yes"),
    ],
)
def test_each_step_shapes_the_text(tmp_path, steps: list, text: str, expected: str) -> None:
    parsed = parse_steps(steps, key="transform", path="s.yaml", line=1)
    assert apply_steps(parsed, text, tmp_path) == expected


@pytest.mark.parametrize(
    ("steps", "text", "reason"),
    [
        ([{"json_path": "$.answer"}], "not json", "json_path '$.answer': the answer is not JSON"),
        ([{"json_path": "$.missing"}], "{}", "json_path '$.missing': no value at that path"),
        (["last_line"], "  \n", "last_line: the answer is empty"),
    ],
)
def test_a_step_that_cannot_apply_says_why(tmp_path, steps: list, text: str, reason: str) -> None:
    with pytest.raises(StepFailed) as failed:
        apply_steps(parse_steps(steps, key="transform", path="s.yaml", line=1), text, tmp_path)
    assert str(failed.value).startswith(reason)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("def f(text):\n    return text.upper()\n", None),
        ("def f(text):\n    return len(text)\n", "function 'rules:f': rules:f returned int, not text"),
        ("def f(text):\n    raise ValueError('no')\n", "function 'rules:f': rules:f raised ValueError: no"),
        ("raise RuntimeError('broken')\n", "function 'rules:f': importing rules.py failed: RuntimeError: broken"),
        ("def g(text):\n    return text\n", "function 'rules:f': cannot use 'rules:f': rules.py has no 'f'"),
    ],
)
def test_a_function_step_loads_the_repository_module_and_says_what_went_wrong(
    tmp_path, source: str, reason: str | None
) -> None:
    (tmp_path / "rules.py").write_text(source)
    steps = parse_steps([{"function": "rules:f"}], key="transform", path="s.yaml", line=1)
    if reason is None:
        assert apply_steps(steps, "ok", tmp_path) == "OK"
        return
    with pytest.raises(StepFailed) as failed:
        apply_steps(steps, "ok", tmp_path)
    assert str(failed.value) == reason
