"""Large and odd answers are recorded, replayed (server gone) and checked without error.

A 10 MB answer, unicode with right-to-left scripts and emoji, an empty answer,
and a tool call whose message content is ``null`` — plain and (but for the
10 MB one) streamed.
"""

from __future__ import annotations

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import write

BIG = "All good. " * 1_048_576  # 10 MiB
RTL = "שלום! مرحبا بك 👋 — naïve café, \u200fend\u200e, 中文, Ω≈ç√"

SCRIPT = {
    "rules": [
        {"when": {"contains": "big"}, "reply": BIG},
        {"when": {"contains": "rtl"}, "reply": RTL},
        {"when": {"contains": "empty"}, "reply": ""},
        {"when": {"contains": "tool"}, "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1"}}]},
    ]
}

SUITE = """
suite: odd{stream_name}
model: gpt-4o-mini
stream: {stream}
prompt: {{user: "{{{{ q }}}}"}}
cases:{big_case}
  - id: rtl
    vars: {{q: rtl}}
    expect: [{{contains: "مرحبا"}}, {{contains: "שלום"}}, {{contains: "👋"}}, {{equals: "{rtl}"}}]
  - id: empty
    vars: {{q: empty}}
    expect: [{{max_chars: 0}}]
  - id: tool
    vars: {{q: "tool please"}}
    expect: [{{max_chars: 0}}]
"""

BIG_CASE = """
  - id: big
    vars: {{q: big}}
    expect: [{{min_chars: {big}}}, {{contains: "All good."}}, {{not_contains: "error"}}]"""

CODE_FIRST = """
def test_tool_call_with_null_content(prompt):
    out = prompt.run("suites/odd.yaml", case="tool")
    assert out.text == ""
    assert [(c["name"], c["arguments"]) for c in out.answer.tool_calls] == [("lookup_order", '{"order_id": "A-1"}')]
    assert out.answer.finish_reason == "tool_calls"
"""


@pytest.fixture
def odd(pytester: pytest.Pytester, demo: DemoServer) -> DemoServer:
    demo.script = Script.from_data(SCRIPT)
    for stream in (False, True):
        write(
            pytester,
            f"suites/odd{'_stream' if stream else ''}.yaml",
            SUITE.format(
                stream_name="-stream" if stream else "",
                stream=str(stream).lower(),
                big_case="" if stream else BIG_CASE.format(big=len(BIG.strip())),  # 10 MB in one answer, not 2M chunks
                rtl=RTL,
            ),
        )
    write(pytester, "tests/test_tool.py", CODE_FIRST)
    return demo


def test_large_and_odd_answers_record_replay_and_check(pytester: pytest.Pytester, odd: DemoServer) -> None:
    pytester.runpytest("--prompt-record=new", "suites", "tests").assert_outcomes(passed=8)
    big = pytester.path / "cassettes/odd/big.yaml"
    assert big.stat().st_size > 10_000_000
    assert cassettes.load(big).meta["answer"].strip() == BIG.strip()
    rtl = (pytester.path / "cassettes/odd/rtl.yaml").read_text(encoding="utf-8")
    assert RTL.split(",")[0] in rtl  # stored readably, not as escapes
    odd.stop()
    result = pytester.runpytest("suites", "tests")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*promptdrift (none): 7 replayed*"])


def test_wrong_odd_answer_fails_with_a_readable_excerpt(pytester: pytest.Pytester, odd: DemoServer) -> None:
    pytester.runpytest("--prompt-record=new", "suites/odd.yaml", "-k", "big").assert_outcomes(passed=1, deselected=3)
    write(pytester, "suites/odd.yaml", (pytester.path / "suites/odd.yaml").read_text().replace("error", "good"))
    result = pytester.runpytest("suites/odd.yaml", "-k", "big")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*FAIL not_contains*", "answer:", "  | All good. All good.*"])
    assert len(result.stdout.str()) < 50_000  # the failure shows an excerpt, not 10 MB
