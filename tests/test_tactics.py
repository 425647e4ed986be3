"""Prompting tactics in suites: conversations, reasoning extraction, retrieval, tools, transforms,
truncation, the Responses API and async clients.

Each tactic records against the local server, replays with the server stopped
and no socket allowed, and fails in the expected way when the scripted answer
is wrong.
"""

from __future__ import annotations

import json

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.run.transform import StepFailed
from promptdrift.run.transform import apply as apply_steps
from promptdrift.spec.steps import parse_steps
from promptdrift.testing.demo import DemoServer, Script

from .conftest import assert_invalid_suite, block_sockets, drift_after_edit, write


def record_and_replay(pytester: pytest.Pytester, demo: DemoServer, **outcomes: int) -> pytest.RunResult:
    """Record the suites in ``pytester``, then replay them with the server stopped and sockets refused."""
    pytester.runpytest("--prompt-record=new").assert_outcomes(**outcomes)
    demo.stop()
    block_sockets(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    return result


def script(demo: DemoServer, *rules: dict, default: str = "I can help with that.") -> None:
    demo.script = Script.from_data({"rules": list(rules), "default": default})


# -- conversations and revision loops ---------------------------------------------------------

REVISION = """
suite: blurbs
model: gpt-4o-mini
prompt:
  system: You write product copy.
cases:
  - id: polish
    vars: {product: "trail boots"}
    turns:
      - user: "Write a product blurb for {{ product }}."
        expect: [{icontains: "boots"}]
      - user: "Now polish the above text to at most 12 words."
        expect: [{max_words: 12}]
    expect: [{not_contains: "!!"}]
"""
LONG_BLURB = "These trail boots grip every rock, shrug off rain and keep your feet fresh mile after long mile."


def test_a_revision_loop_records_its_turns_in_order_in_one_cassette(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    script(
        demo,
        {"when": {"contains": "blurb"}, "reply": LONG_BLURB},
        {"when": {"contains": "polish"}, "reply": "Trail boots that grip rock and stay dry."},
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    record_and_replay(pytester, demo, passed=1)
    tape = cassettes.load(pytester.path / "cassettes/blurbs/polish.yaml")
    first, second = (i.request_json["messages"] for i in tape.interactions)
    assert [m["role"] for m in first] == ["system", "user"]
    # The second turn carries the model's first answer, so "the above text" refers to it.
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == LONG_BLURB and "polish" in second[3]["content"]
    assert tape.meta["answer"] == "Trail boots that grip rock and stay dry."
    assert [c.get("turn") for c in tape.meta["checks"]] == [1, None, None]


def test_a_turn_check_failing_names_its_turn(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo, {"when": {"contains": "blurb"}, "reply": "Shoes."}, {"when": {"contains": "polish"}, "reply": LONG_BLURB}
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAIL icontains (turn 1)*", "*FAIL max_words*18 words, more than 12*"])


def test_an_edited_turn_is_prompt_drift(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo, {"when": {"contains": "blurb"}, "reply": LONG_BLURB}, {"when": {"contains": "polish"}, "reply": "Short."}
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    result = drift_after_edit(pytester, "suites/blurbs.yaml", "at most 12 words", "at most 10 words")
    result.stdout.fnmatch_lines(["*-*at most 12 words*", "*+*at most 10 words*"])


# -- reasoning with answer extraction -----------------------------------------------------

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

POLICIES = {
    "returns.md": "Returns are accepted within 30 days of delivery.\n\nItems must be unused and in the original box.",
    "shipping.md": "Standard shipping takes 3 to 5 business days.\n\nExpress shipping arrives the next business day.",
    "giftcards.md": "Gift cards never expire.\n\nGift cards cannot be exchanged for cash.",
}
FAQ = """
suite: faq
model: gpt-4o-mini
prompt:
  system: "Answer only from these policies:\\n{{ context }}"
  user: "{{ question }}"
context: {documents: "fixtures/policies/*.md", top_k: 1, query: "{{ question }}"}
expect:
  - grounded: {min: 1.0}
  - faithfulness: {min: 0.7}
cases:
  - id: return-window
    vars: {question: "Within how many days are returns accepted?"}
"""
GRADER = {
    "when": {"system": "impartial grader", "contains": "faithful"},
    "reply": {"json": {"score": 0.9, "reason": "supported"}},
}


def write_policies(pytester: pytest.Pytester) -> None:
    for name, text in POLICIES.items():
        write(pytester, f"fixtures/policies/{name}", text)


def test_retrieval_puts_the_top_document_in_the_prompt_and_groundedness_passes(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    script(demo, GRADER, {"when": {"contains": "returns"}, "reply": "Returns are accepted within 30 days of delivery."})
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ)
    record_and_replay(pytester, demo, passed=1)
    tape = cassettes.load(pytester.path / "cassettes/faq/return-window.yaml")
    system = tape.interactions[0].request_json["messages"][0]["content"]
    assert "[fixtures/policies/returns.md]\nReturns are accepted within 30 days" in system
    assert "shipping" not in system and "Gift" not in system  # top_k 1: only the best document
    grader = tape.interactions[1].request_json["messages"][1]["content"]
    assert "<context>" in grader and "30 days" in grader  # the grader sees the same context
    assert [c["check"] for c in tape.meta["checks"]] == ["grounded", "faithfulness"]


def test_an_answer_not_supported_by_the_context_fails_groundedness(pytester: pytest.Pytester, demo: DemoServer) -> None:
    unsupported = "Returns are accepted within 30 days of delivery. We also refund shipping costs on every order."
    script(
        demo,
        {**GRADER, "reply": {"json": {"score": 0.3, "reason": "claims a shipping refund"}}},
        {"when": {"contains": "returns"}, "reply": unsupported},
    )
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL grounded ?score 0.5?: score 0.5 < min 1: 1 of 2 sentences supported by the context; not supported: *refund shipping costs*",
            "*FAIL faithfulness ?score 0.3?*claims a shipping refund*",
        ]
    )


def test_without_top_k_every_document_is_in_the_prompt(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, GRADER, default="Gift cards never expire.")
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ.replace(', top_k: 1, query: "{{ question }}"', ""))
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    system = (
        cassettes.load(pytester.path / "cassettes/faq/return-window.yaml")
        .interactions[0]
        .request_json["messages"][0]["content"]
    )
    assert [line for line in system.splitlines() if line.startswith("[")] == [
        "[fixtures/policies/giftcards.md]",
        "[fixtures/policies/returns.md]",
        "[fixtures/policies/shipping.md]",
    ]


def test_a_changed_document_is_prompt_drift(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, GRADER, {"when": {"contains": "returns"}, "reply": "Returns are accepted within 30 days of delivery."})
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ)
    result = drift_after_edit(pytester, "fixtures/policies/returns.md", "30 days", "14 days")
    result.stdout.fnmatch_lines(["*-*30 days*", "*+*14 days*"])


# -- finish reasons ---------------------------------------------------------------------------

TRUNCATED = """
suite: essays
model: gpt-4o-mini
params: {max_tokens: 5}
prompt: {user: "Write an essay about {{ topic }}."}
cases:
  - {id: cut, vars: {topic: rain}}
  - {id: allowed, vars: {topic: snow}, truncation: expected}
"""


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_an_answer_cut_off_by_the_token_limit_fails_unless_expected(
    pytester: pytest.Pytester, demo: DemoServer, api: str
) -> None:
    script(demo, {"when": {"contains": "essay"}, "reply": "Rain falls on the", "finish_reason": "length"})
    write(pytester, "suites/essays.yaml", TRUNCATED + f"api: {api}\n")
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*essays.yaml::cut FAILED*",
            "*FAIL truncation: the answer was cut off by the token limit (max_tokens=5, finish_reason 'length'); "
            "raise the limit, or declare 'truncation: expected' on the case*",
        ]
    )
    if api == "responses":
        body = cassettes.load(pytester.path / "cassettes/essays/cut.yaml").interactions[0].request_json
        assert body["max_output_tokens"] == 5 and "max_tokens" not in body


# -- the Responses API -------------------------------------------------------------------------

RESPONSES = """
suite: replies
model: gpt-4o-mini
api: responses
params: {temperature: 0, max_tokens: 200}
response_format: {schema: fixtures/reply.json}
prompt:
  system: You are a support assistant.
  user: "{{ message }}"
expect: [{schema: fixtures/reply.json}, {json_path: {path: "$.mood", equals: sorry}}]
cases:
  - {id: late, vars: {message: "My order is late"}}
"""
REPLY_SCHEMA = {"type": "object", "required": ["mood"], "properties": {"mood": {"type": "string"}}}


@pytest.mark.parametrize("stream", [False, True])
def test_the_responses_api_records_and_replays_plain_and_streamed(
    pytester: pytest.Pytester, demo: DemoServer, stream: bool
) -> None:
    script(demo, {"when": {"contains": "late"}, "reply": {"json": {"mood": "sorry"}}})
    write(pytester, "fixtures/reply.json", json.dumps(REPLY_SCHEMA))
    write(pytester, "suites/replies.yaml", RESPONSES + ("stream: true\n" if stream else ""))
    record_and_replay(pytester, demo, passed=1)
    tape = cassettes.load(pytester.path / "cassettes/replies/late.yaml")
    interaction = tape.interactions[0]
    assert interaction.uri.endswith("/v1/responses") and interaction.is_event_stream is stream
    body = interaction.request_json
    assert body["input"][0] == {"role": "system", "content": "You are a support assistant."}
    assert body["text"]["format"]["type"] == "json_schema" and body["max_output_tokens"] == 200
    assert tape.meta["interactions"][0]["usage"]["total_tokens"] > 0


def test_a_wrong_responses_answer_fails(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, {"when": {"contains": "late"}, "reply": {"json": {"mood": "cheerful"}}})
    write(pytester, "fixtures/reply.json", json.dumps(REPLY_SCHEMA))
    write(pytester, "suites/replies.yaml", RESPONSES)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAIL json_path*cheerful*"])


def test_a_chat_only_parameter_with_the_responses_api_is_a_clear_error(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    write(pytester, "fixtures/reply.json", json.dumps(REPLY_SCHEMA))
    write(pytester, "suites/replies.yaml", RESPONSES.replace("temperature: 0,", "seed: 7,"))
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*params.seed has no equivalent in the Responses API; remove it or use api: chat*"])
    assert not demo.requests


# -- async clients -----------------------------------------------------------------------------

ASYNC_TEST = """
import asyncio


async def ask_all(client, questions):
    replies = await asyncio.gather(
        *(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}]) for q in questions)
    )
    return [r.choices[0].message.content for r in replies]


def test_async_client(async_openai_client):
    answers = asyncio.run(ask_all(async_openai_client, ["order 1 is late", "send my invoice", "hello"]))
    assert answers[0].startswith("I'm so sorry") and '"total": 42.5' in answers[1]


def test_async_client_from_prompt(prompt):
    async def go():
        client = prompt.async_client()
        reply = await client.responses.create(model="gpt-4o-mini", input="my parcel is late")
        return reply.output_text

    assert "sorry" in asyncio.run(go())
"""


def test_async_clients_record_concurrent_calls_and_replay_them(pytester: pytest.Pytester, demo: DemoServer) -> None:
    pytester.makepyfile(test_async=ASYNC_TEST)
    record_and_replay(pytester, demo, passed=2)
    tape = cassettes.load(pytester.path / "cassettes/test_async/test_async_client.yaml")
    assert sorted(json.loads(i.request_body)["messages"][0]["content"] for i in tape.interactions) == [
        "hello",
        "order 1 is late",
        "send my invoice",
    ]
    assert (
        cassettes.load(pytester.path / "cassettes/test_async/test_async_client_from_prompt.yaml")
        .interactions[0]
        .uri.endswith("/responses")
    )


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("extract: {before: x}\n", "*extract: unknown step 'before'. Steps: after*"),
        ("transform: [strip, {regex: '('}]\n", "*transform: regex: invalid pattern*"),
        ("transform: [{function: 'no colon'}]\n", "*transform: function: give 'package.module:function'*"),
        ("context: {documents: 'fixtures/none/*.md'}\n", "*context.documents: no file matches 'fixtures/none/*.md'*"),
        ("context: {documents: '../*.md'}\n", "*context.documents: '../*.md' must stay inside the repository*"),
        ("context: {documents: fixtures/a.md, top_k: 2}\n", "*context.top_k needs a query template*"),
        ("api: completions\n", "*api must be one of chat, responses, got 'completions'*"),
        ("truncation: maybe\n", "*truncation must be 'expected' or 'fail'*"),
        ("tool_results: [a]\n", "*tool_results (tool name: result) must be a mapping*"),
    ],
)
def test_malformed_tactics_name_the_file_and_line(pytester: pytest.Pytester, fragment: str, message: str) -> None:
    write(pytester, "fixtures/a.md", "A document.")
    text = "suite: bad\nmodel: m\nprompt: {user: hi}\ncases: [{id: a}]\n" + fragment
    assert_invalid_suite(pytester, text, "*suites/bad.yaml:5: " + message.lstrip("*"))


def test_turns_must_be_a_list_of_user_messages(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        "suites/bad.yaml",
        "suite: bad\nmodel: m\nprompt: {system: s}\ncases:\n  - {id: a, turns: [{assistant: x}]}\n",
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        ["*suites/bad.yaml:5: case 'a' turn 1: unknown key 'assistant'; valid keys: expect, user*"]
    )
    write(pytester, "suites/bad.yaml", "suite: bad\nmodel: m\nprompt: {system: s}\ncases:\n  - {id: a}\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*prompt.user (the user message template) is required, unless every case has turns*"])


def test_variants_can_switch_api_context_and_tactics(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo, {"when": {"contains": "returns"}, "reply": "Returns are accepted within 30 days of delivery.\nAnswer: 30"}
    )
    write_policies(pytester)
    suite = FAQ.replace("expect:\n  - grounded: {min: 1.0}\n  - faithfulness: {min: 0.7}\n", "")
    suite += """
variants:
  chat-all-documents: {context: {documents: "fixtures/policies/*.md"}}
  responses-extracted: {api: responses, extract: {after: "Answer:"}, expect: [{equals: "30"}]}
"""
    write(pytester, "suites/faq.yaml", suite)
    record_and_replay(pytester, demo, passed=2)
    folder = pytester.path / "cassettes/faq"
    chat = cassettes.load(folder / "chat-all-documents/return-window.yaml").interactions[0]
    assert (
        chat.uri.endswith("/chat/completions") and chat.request_json["messages"][0]["content"].count("[fixtures/") == 3
    )
    responses = cassettes.load(folder / "responses-extracted/return-window.yaml")
    assert responses.interactions[0].uri.endswith("/responses") and responses.meta["checked_text"] == "30"


def test_prompt_run_in_python_runs_a_conversation_case(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo,
        {"when": {"contains": "blurb"}, "reply": LONG_BLURB},
        {"when": {"contains": "polish"}, "reply": "Trail boots that grip rock and stay dry."},
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    pytester.makepyfile(
        test_blurb="""
        def test_polish(prompt):
            out = prompt.run("suites/blurbs.yaml", case="polish")
            assert out.text == "Trail boots that grip rock and stay dry."
            out.check()
        """
    )
    record_and_replay(pytester, demo, passed=2)  # the suite's own item, and the Python test
    assert len(cassettes.load(pytester.path / "cassettes/test_blurb/test_polish.yaml").interactions) == 2


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


def test_a_provider_can_choose_the_responses_api(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, {"when": {"contains": "late"}, "reply": {"json": {"mood": "sorry"}}})
    write(pytester, "fixtures/reply.json", json.dumps(REPLY_SCHEMA))
    write(pytester, "suites/replies.yaml", RESPONSES.replace("api: responses\n", "provider: {api: responses}\n"))
    record_and_replay(pytester, demo, passed=1)
    assert cassettes.load(pytester.path / "cassettes/replies/late.yaml").interactions[0].uri.endswith("/v1/responses")


def test_context_separator_and_documents_variable(tmp_path) -> None:
    from promptdrift.run.retrieval import context_variables
    from promptdrift.spec.model import Document, Retrieval

    spec = Retrieval((Document("a.md", "Alpha."), Document("b.md", "Beta.")), separator="\n---\n")
    got = context_variables(spec, {}, where="case 'x'", path="s.yaml")
    assert got["context"] == "[a.md]\nAlpha.\n---\n[b.md]\nBeta."
    assert got["documents"] == [{"name": "a.md", "text": "Alpha."}, {"name": "b.md", "text": "Beta."}]
    ranked = context_variables(
        Retrieval(spec.documents, top_k=1, query="{{ q }}"), {"q": "beta"}, where="case 'x'", path="s.yaml"
    )
    assert ranked["documents"] == [{"name": "b.md", "text": "Beta."}]


@pytest.mark.parametrize(("overlap", "score"), [(0.6, 0.5), (0.3, 1.0)])
def test_grounded_counts_sentences_supported_by_one_passage(tmp_path, overlap: float, score: float) -> None:
    from promptdrift.checks import evaluate, parse_check
    from promptdrift.config import Settings
    from promptdrift.core.answers import Answer
    from promptdrift.run.context import Context

    context = [{"name": "p.md", "text": "Returns are accepted within 30 days.\n\nShipping is free over 50 euros."}]
    # The second sentence shares "shipping" and "free" with a passage: 2 of its 4 content words.
    answer = Answer("Returns are accepted within 30 days. Shipping is free for members everywhere.", context=context)
    spec = parse_check({"grounded": {"overlap": overlap, "min": 0}}, path="s.yaml", default_line=None)
    result = evaluate(spec, answer, spec.arg, Context(Settings(rootdir=tmp_path)))
    assert result.score == score
