"""Tools: scripted tool results, the tool_call check, and operational checks over every call of a tool loop."""

from __future__ import annotations

import json

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import record_and_replay, script, write

TOOLS = """
suite: orders
model: gpt-4o-mini
prompt:
  system: You help customers with orders. Use the tools.
  user: "{{ msg }}"
tools:
  - name: lookup_order
    description: Look up an order by id.
    parameters:
      type: object
      required: [order_id]
      properties: {order_id: {type: string, pattern: "^[A-Z]-\\\\d{4}$"}}
tool_results:
  lookup_order: {status: shipped, order: "{{ order }}"}
expect:
  - tool_call: {name: lookup_order, arguments: {schema: fixtures/lookup.json, equals: {order_id: "{{ order }}"}}}
  - contains: shipped
cases:
  - id: where
    vars: {msg: "Where is order A-1001?", order: A-1001}
"""
LOOKUP_SCHEMA = {"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": "string"}}}


def tool_script(demo: DemoServer, order_id: str, follow_up: str = "Good news: order A-1001 has shipped.") -> None:
    script(
        demo,
        {"when": {"tool_result": "shipped"}, "reply": follow_up},
        {
            "when": {"contains": "where is order"},
            "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": order_id}}],
        },
    )


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_tool_call_gets_its_scripted_result_and_the_final_answer_is_checked(
    pytester: pytest.Pytester, demo: DemoServer, api: str
) -> None:
    tool_script(demo, "A-1001")
    write(pytester, "suites/orders.yaml", TOOLS + f"api: {api}\n")
    write(pytester, "fixtures/lookup.json", json.dumps(LOOKUP_SCHEMA))
    record_and_replay(pytester, demo, passed=1)
    tape = cassettes.load(pytester.path / "cassettes/orders/where.yaml")
    assert len(tape.interactions) == 2
    follow_up = tape.interactions[1].request_json
    if api == "chat":
        tool_message = follow_up["messages"][-1]
        assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_0"
        assert json.loads(tool_message["content"]) == {"status": "shipped", "order": "A-1001"}
    else:
        assert tape.interactions[1].uri.endswith("/v1/responses")
        assert follow_up["input"][-2]["type"] == "function_call"
        assert follow_up["input"][-1] == {
            "type": "function_call_output",
            "call_id": "call_0",
            "output": '{"status": "shipped", "order": "A-1001"}',
        }
        assert follow_up["tools"][0]["name"] == "lookup_order"  # the Responses API's flat tool form


def test_wrong_tool_arguments_fail_the_tool_call_check(pytester: pytest.Pytester, demo: DemoServer) -> None:
    tool_script(demo, "A-9999")
    write(pytester, "suites/orders.yaml", TOOLS)
    write(pytester, "fixtures/lookup.json", json.dumps(LOOKUP_SCHEMA))
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAIL tool_call*lookup_order arguments: order_id is 'A-9999', expected 'A-1001'*"])


def test_a_tool_without_a_scripted_result_ends_the_case_with_the_call(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    tool_script(demo, "A-1001")
    write(
        pytester, "suites/orders.yaml", TOOLS.replace("tool_results:\n  lookup_order:", "tool_results:\n  other_tool:")
    )
    write(pytester, "fixtures/lookup.json", json.dumps(LOOKUP_SCHEMA))
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)  # tool_call passes; contains "shipped" fails: there was no follow-up
    result.stdout.fnmatch_lines(["*PASS tool_call*", "*FAIL contains*", "*tool call: lookup_order*"])
    assert len(cassettes.load(pytester.path / "cassettes/orders/where.yaml").interactions) == 1


# -- retrieval context and groundedness --------------------------------------------------


def test_a_rerecorded_multi_call_case_compares_the_tokens_of_all_its_calls(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    tool_script(demo, "A-1001")
    write(pytester, "suites/orders.yaml", TOOLS)
    write(pytester, "fixtures/lookup.json", json.dumps(LOOKUP_SCHEMA))
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    calls = cassettes.load(pytester.path / "cassettes/orders/where.yaml").meta["interactions"]
    both = sum(call["usage"]["total_tokens"] for call in calls)
    pytester.runpytest("--prompt-record=all", "--prompt-report=report.json").assert_outcomes(passed=1)
    (case,) = json.loads((pytester.path / "report.json").read_text())["cases"]
    assert len(calls) == 2 and case["usage"]["total_tokens"] == both
    assert case["baseline"]["usage"] == case["usage"]  # the same answer: no token change reported


def test_operational_checks_count_every_call_of_a_tool_loop(pytester: pytest.Pytester, demo: DemoServer) -> None:
    tool_script(demo, "A-1001")
    write(pytester, "fixtures/lookup.json", json.dumps(LOOKUP_SCHEMA))
    write(pytester, "suites/orders.yaml", TOOLS)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    calls = cassettes.load(pytester.path / "cassettes/orders/where.yaml").meta["interactions"]
    each, both = max(c["usage"]["total_tokens"] for c in calls), sum(c["usage"]["total_tokens"] for c in calls)
    # A limit every single call meets, but the two together do not: checks are evaluated again on replay.
    write(
        pytester,
        "suites/orders.yaml",
        TOOLS.replace("  - contains: shipped", f"  - contains: shipped\n  - tokens: {{max: {each}}}"),
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*FAIL tokens*{both}*"])
