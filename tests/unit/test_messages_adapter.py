"""Anthropic's Messages API adapter: the request a conversation becomes, the answer read back, and the suite's
provider block."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptdrift.cassettes.format import Interaction
from promptdrift.checks import parse_check
from promptdrift.checks.operational import price_of
from promptdrift.core.answers import Answer
from promptdrift.core.errors import PromptdriftError, SuiteError
from promptdrift.record.adapters import MessagesAdapter
from promptdrift.suite.reader import load_suite

ADAPTER = MessagesAdapter()
SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}}

CONVERSATION = [
    {"role": "system", "content": "Be warm."},
    {"role": "developer", "content": "Answer in English."},
    {"role": "user", "content": "Where are A-1 and B-2?"},
    {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": '{"id": "A-1"}'}},
            {"id": "t2", "type": "function", "function": {"name": "lookup", "arguments": '{"id": "B-2"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "t1", "content": "shipped"},
    {"role": "tool", "tool_call_id": "t2", "content": "late"},
]
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "description": "Find an order.", "parameters": {"type": "object"}},
}


def interaction(body: str, *, stream: bool = False) -> Interaction:
    content_type = "text/event-stream" if stream else "application/json"
    return Interaction("POST", "http://h/v1/messages", "{}", 200, "OK", {"content-type": [content_type]}, body)


def test_a_conversation_becomes_a_messages_request() -> None:
    body = ADAPTER.body(
        "claude-a",
        CONVERSATION,
        {
            "max_completion_tokens": 50,
            "stop": "END",
            "response_format": {"type": "json_schema", "json_schema": {"name": "r", "strict": True, "schema": SCHEMA}},
            "reasoning_effort": "high",
            "tools": [TOOL],
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "parallel_tool_calls": False,
            "user": "u-1",
            "extra_body": {"top_k": 5},
        },
    )
    assert body["system"] == "Be warm.\n\nAnswer in English."
    assert body["max_tokens"] == 50 and body["stop_sequences"] == ["END"] and body["top_k"] == 5
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}, "effort": "high"}
    assert body["tools"] == [{"name": "lookup", "input_schema": {"type": "object"}, "description": "Find an order."}]
    assert body["tool_choice"] == {"type": "tool", "name": "lookup", "disable_parallel_tool_use": True}
    assert body["messages"] == [
        {"role": "user", "content": "Where are A-1 and B-2?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"id": "A-1"}},
                {"type": "tool_use", "id": "t2", "name": "lookup", "input": {"id": "B-2"}},
            ],
        },
        {  # both results in one user message, as the API requires
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "shipped"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "late"},
            ],
        },
    ]


@pytest.mark.parametrize(("choice", "expected"), [("auto", "auto"), ("required", "any"), ("none", "none")])
def test_tool_choice_names_map_to_anthropics(choice: str, expected: str) -> None:
    body = ADAPTER.body("m", [{"role": "user", "content": "hi"}], {"max_tokens": 5, "tool_choice": choice})
    assert body["tool_choice"] == {"type": expected}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"stop": "x"}, r"needs max_tokens: set params\.max_tokens"),
        ({"max_tokens": 5, "seed": 1}, r"params\.seed has no equivalent in Anthropic.s Messages API"),
        ({"max_tokens": 5, "temperature": 1.0}, r"params\.temperature: .* no sampling parameters since .*2026-10-21"),
        ({"max_tokens": 5, "top_p": 0.9}, r"params\.top_p: .* no sampling parameters"),
        ({"max_tokens": 5, "response_format": {"type": "json_object"}}, r"response_format of type 'json_object'"),
        ({"max_tokens": 5, "reasoning_effort": "minimal"}, r"reasoning_effort 'minimal' has no equivalent"),
    ],
)
def test_max_tokens_is_required_and_what_anthropic_lacks_is_refused(params: dict, message: str) -> None:
    with pytest.raises(PromptdriftError, match=message):
        ADAPTER.body("m", [{"role": "user", "content": "hi"}], params)


def test_a_message_is_read_in_chat_completions_terms() -> None:
    message = {
        "type": "message",
        "model": "claude-a-2026",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"id": "A-1"}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 4,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 0,
        },
    }
    answer = ADAPTER.parse(interaction(json.dumps(message)))
    assert answer.text == "Checking." and answer.model == "claude-a-2026" and answer.finish_reason == "tool_calls"
    assert answer.tool_calls == [{"id": "t1", "name": "lookup", "arguments": '{"id": "A-1"}'}]
    assert answer.usage == {
        "prompt_tokens": 10,
        "completion_tokens": 4,
        "cache_write_tokens": 100,
        "cache_read_tokens": 0,
        "total_tokens": 114,
    }
    cut = ADAPTER.parse(interaction(json.dumps({**message, "stop_reason": "max_tokens"})))
    assert cut.finish_reason == "length"  # the truncation problem reads this


def test_an_error_body_is_not_read_as_an_answer() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(PromptdriftError, match="not an Anthropic message"):
        ADAPTER.parse(interaction(json.dumps(error)))


def test_a_stream_is_assembled_text_and_tool_input_from_its_deltas() -> None:
    events = [
        {"type": "message_start", "message": {"model": "claude-a", "usage": {"input_tokens": 7, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " look."}},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}},
        },
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"id": '}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"A-1"}'}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    stream = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    answer = ADAPTER.parse(interaction(stream, stream=True))
    assert answer.text == "Let me look." and answer.finish_reason == "tool_calls"
    assert answer.tool_calls == [{"id": "t1", "name": "lookup", "arguments": '{"id": "A-1"}'}]
    assert answer.usage == {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}


def test_prompt_cache_tokens_are_priced_at_their_own_rates() -> None:
    answer = Answer(
        "x",
        usage={
            "prompt_tokens": 1_000_000,
            "completion_tokens": 0,
            "cache_write_tokens": 1_000_000,
            "cache_read_tokens": 1_000_000,
        },
        requested_model="claude-a",
    )
    assert price_of({"claude-a": {"input": 3.0, "output": 15.0}}, answer) == pytest.approx(3.0 + 3.75 + 0.3)
    given = {"claude-a": {"input": 3.0, "output": 15.0, "cache_write": 6.0, "cache_read": 0.5}}
    assert price_of(given, answer) == pytest.approx(3.0 + 6.0 + 0.5)


SUITE = "suite: s\nmodel: m\n{provider}prompt: {{user: hi}}\ncases: [{{id: a}}]\n"


def suite_with(tmp_path: Path, provider: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SUITE.format(provider=provider), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "provider", ["provider: anthropic\n", "provider: {name: anthropic, base_url: 'http://h', api_key_env: MY_KEY}\n"]
)
def test_a_suite_names_anthropic_as_its_provider(tmp_path: Path, provider: str) -> None:
    suite = load_suite(suite_with(tmp_path, provider), tmp_path)
    assert suite.provider.name == "anthropic" and suite.api == "messages"


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("provider: antropic\n", "unknown provider 'antropic'; did you mean 'anthropic'"),
        ("provider: {name: anthropic, api: chat}\n", "api: chat is not an API of provider anthropic"),
        ("provider: {name: anthropic, azure: {endpoint: 'https://x'}}\n", "provider.azure is for OpenAI"),
        ("provider: {api: messages}\n", "api: messages is not an API of provider openai"),
        ("provider: anthropic\napi: responses\n", "api: responses is not an API of provider anthropic"),
    ],
)
def test_a_wrong_provider_is_a_clear_error(tmp_path: Path, provider: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message) as caught:
        load_suite(suite_with(tmp_path, provider), tmp_path)
    assert "s.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"judge": {"rubric": "warm", "grader": {"provider": "anthropic"}}}, "an anthropic grader needs its model"),
        (
            {"judge": {"rubric": "warm", "grader": {"provider": "gemini", "model": "g"}}},
            "must be one of openai, anthropic",
        ),
        ({"factuality": {"reference": "x", "grader": "claude"}}, "grader takes provider and model"),
        ({"tone": {"rubric": "warm", "grader": {"model": "m", "temperature": 0}}}, "grader takes provider and model"),
    ],
)
def test_a_wrong_grader_is_a_clear_error(check: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_check(check, path="s.yaml", default_line=None)


def test_a_grader_names_its_provider_and_model() -> None:
    spec = parse_check(
        {"faithfulness": {"grader": {"provider": "anthropic", "model": "claude-h"}, "min": 0.8}},
        path="s.yaml",
        default_line=None,
    )
    assert spec.arg == {"model": "claude-h", "provider": "anthropic"}


def test_an_anthropic_key_is_named_as_one_when_scrubbed() -> None:
    from promptdrift.cassettes.secrets import Scrubber

    assert Scrubber({}, shapes=True).text("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345") == (
        "key <redacted:anthropic-key>"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
EVENT = st.fixed_dictionaries(
    {"type": st.sampled_from(["message_start", "content_block_start", "content_block_delta", "message_delta"])},
    optional={key: JSON for key in ("index", "delta", "content_block", "message", "usage")},
)


MESSAGE = st.fixed_dictionaries(
    {"type": st.just("message")}, optional={key: JSON for key in ("content", "usage", "stop_reason", "model")}
)


@given(st.lists(EVENT | JSON, max_size=8), MESSAGE | JSON)
def test_odd_events_and_bodies_are_read_without_crashing(events: list, body: object) -> None:
    """Whatever a hand-edited or damaged cassette holds, reading it gives an answer or a clear error."""
    stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    assert isinstance(ADAPTER.parse(interaction(stream, stream=True)), Answer)
    with contextlib.suppress(PromptdriftError):
        assert isinstance(ADAPTER.parse(interaction(json.dumps(body))), Answer)
