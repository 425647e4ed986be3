"""Fidelity as a property: for any answer the ``openai`` SDK accepts, what it parses directly, through a
recording and through an offline replay is the same, as exact JSON.

The answers are drawn from the SDK's own pydantic models (chat completions and their stream chunks,
Responses and their stream events, embeddings, error bodies), with fields the SDK does not know yet
beside them, and served by a real HTTP server on 127.0.0.1 (promptdrift.testing.conformance).
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import openai.types.responses as responses_types
import pydantic
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response

from promptdrift.testing.conformance import AnswerServer, Canned, check_calls

pytestmark = pytest.mark.slow  # hundreds of generated SDK answers, three ways each

OMIT = object()
MAX_DEPTH = 5

# JSON values where the SDK takes anything: exact types matter (15 is not 15.0, -0.0 is not 0.0).
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([15, 15.0, -0.0, 0.1 + 0.2, 1e-7, 123456789.123456789, 2**53 + 1]),
)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


def shape(annotation: Any, depth: int) -> st.SearchStrategy[Any]:
    """A strategy for JSON that parses as ``annotation`` (a field type of the SDK's models)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return shape(args[0], depth)
    if annotation is type(None):
        return st.none()
    if origin in (typing.Union, types.UnionType):
        return st.one_of([shape(a, depth) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (list, typing.List, typing.Sequence):  # noqa: UP006
        return st.lists(shape(args[0], depth + 1), max_size=2 if depth < MAX_DEPTH else 0)
    if origin in (dict, typing.Dict):  # noqa: UP006
        return st.dictionaries(texts, json_values, max_size=2)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return model(annotation, depth + 1)
    simple = {str: texts, int: st.integers(-(2**63), 2**63), float: numbers, bool: st.booleans()}
    return simple.get(annotation, json_values)


def model(cls: type[pydantic.BaseModel], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """JSON for one of the SDK's models: its required fields, some optional ones, and perhaps one it does not
    know yet (an API newer than the SDK)."""
    fields = {}
    for name, info in cls.model_fields.items():
        key = info.alias or name
        value = shape(info.annotation, depth)
        if info.is_required():
            fields[key] = value
        elif depth < MAX_DEPTH:
            fields[key] = st.one_of(st.just(OMIT), value)
    unknown = st.dictionaries(st.sampled_from(["x_new_field", "obfuscation"]), json_values, max_size=1)
    return st.tuples(st.fixed_dictionaries(fields), unknown).map(
        lambda pair: {**pair[1], **{k: v for k, v in pair[0].items() if v is not OMIT}}
    )


def stream_event(event: type[pydantic.BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    return model(event, depth=3)


EVENTS = typing.get_args(typing.get_args(responses_types.ResponseStreamEvent)[0])
ENDS = [responses_types.ResponseCompletedEvent, responses_types.ResponseIncompleteEvent]


def canned(path: str, request: dict[str, Any], body: bytes, status: int = 200, stream: bool = False) -> Canned:
    kind = "text/event-stream" if stream else "application/json"
    return Canned("POST", path, request, status, (("content-type", kind),), body, where=f"drawn {path}")


def sse(events: list[dict[str, Any]], *, done: bool, named: bool) -> bytes:
    lines = []
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        lines.append(f"{head}data: {json.dumps(event, ensure_ascii=False)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode("utf-8")


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "gpt-4o-mini", "input": "hi"}


def chat(doc: dict[str, Any]) -> Canned:
    return canned("/chat/completions", CHAT, json.dumps(doc, ensure_ascii=False).encode())


def chat_stream(chunks: list[dict[str, Any]]) -> Canned:
    return canned("/chat/completions", {**CHAT, "stream": True}, sse(chunks, done=True, named=False), stream=True)


def responses(doc: dict[str, Any]) -> Canned:
    return canned("/responses", RESPONSES, json.dumps(doc, ensure_ascii=False).encode())


def responses_stream(events: list[dict[str, Any]]) -> Canned:
    return canned("/responses", {**RESPONSES, "stream": True}, sse(events, done=False, named=True), stream=True)


def embeddings(doc: dict[str, Any]) -> Canned:
    request = {"model": "text-embedding-3-small", "input": ["hi"], "encoding_format": "float"}
    return canned("/embeddings", request, json.dumps(doc, ensure_ascii=False).encode())


def error(status: int, doc: dict[str, Any]) -> Canned:
    return canned("/chat/completions", CHAT, json.dumps(doc, ensure_ascii=False).encode(), status=status)


SHAPES = {
    "chat": model(ChatCompletion).map(chat),
    "chat stream": st.lists(model(ChatCompletionChunk, depth=1), min_size=1, max_size=3).map(chat_stream),
    "responses": model(Response, depth=1).map(responses),
    "responses stream": st.tuples(
        st.lists(st.sampled_from(EVENTS).flatmap(stream_event), max_size=3),
        st.sampled_from(ENDS).flatmap(stream_event),
    ).map(lambda pair: responses_stream([*pair[0], pair[1]])),
    "embeddings": model(CreateEmbeddingResponse).map(embeddings),
    "error": st.builds(
        error,
        st.sampled_from([400, 404, 409 + 13, 413]),
        st.fixed_dictionaries(
            {
                "error": st.fixed_dictionaries(
                    {"message": texts, "type": texts, "param": st.none() | texts, "code": st.none() | texts | numbers}
                )
            }
        ),
    ),
}


def _agree(server: AnswerServer, call: Canned, asynchronous: bool = False) -> None:
    (verdict,) = check_calls([call], asynchronous=asynchronous, server=server)
    assert verdict.agree, (
        verdict.line()
        + f"\ndirect:   {verdict.direct}\nrecorded: {verdict.recorded}\n"
        + (f"replayed: {verdict.replayed}")
    )


FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_direct_recorded_and_replayed_answers_parse_alike(answer_server: AnswerServer, kind: str) -> None:
    @FAST
    @given(SHAPES[kind])
    def prop(call: Canned) -> None:
        _agree(answer_server, call)

    prop()


@FAST
@given(call=st.sampled_from(sorted(SHAPES)).flatmap(lambda kind: SHAPES[kind]))
@example(
    call=chat(
        {
            "id": "c",
            "choices": [],
            "created": 15,
            "model": "m",
            "object": "chat.completion",
            "usage": {"completion_tokens": 15, "prompt_tokens": -0.0, "total_tokens": 1.5e300},
        }
    )
)
@example(
    call=error(
        400,
        {
            "error": {
                "message": "Unsupported value: 'temperature' ÿ ✓",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "unsupported_value",
            }
        },
    )
)
# Found by the property: the conformance check's own API key was a plain word, and an answer holding that
# word was scrubbed in the replay (as a secret should be). The key is random now.
@example(
    call=responses(
        {
            "id": "",
            "created_at": 0,
            "model": "conformance",
            "object": "response",
            "output": [],
            "parallel_tool_calls": False,
            "tool_choice": "none",
            "tools": [],
        }
    )
)
def test_the_async_client_sees_the_same(answer_server: AnswerServer, call: Canned) -> None:
    _agree(answer_server, call, asynchronous=True)


def test_the_conformance_command_checks_a_folder_of_cassettes(tmp_path, capsys) -> None:
    """``promptdrift conformance`` on cassettes written as vcrpy and other projects write them (parsed_body)."""
    from promptdrift.cli.main import main

    answer = {
        "id": "c1",
        "object": "chat.completion",
        "created": 15,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ç -0.0"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    request = {"method": "POST", "uri": "https://api.openai.com/v1/chat/completions", "headers": {}}
    plain = {
        "request": {**request, "body": json.dumps(CHAT)},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"content-type": ["application/json"]},
            "body": {"string": json.dumps(answer)},
        },
    }
    rejected = {
        "request": {**request, "parsed_body": CHAT},
        "response": {
            "status": {"code": 400, "message": "Bad Request"},
            "headers": {"content-type": ["application/json"]},
            "parsed_body": {"error": {"message": "bad", "type": "invalid_request_error"}},
        },
    }
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.yaml").write_text(json.dumps({"interactions": [plain, rejected], "version": 1}))
    (tmp_path / "other.yaml").write_text(
        json.dumps(
            {
                "interactions": [
                    {**plain, "request": {**request, "uri": "https://api.openai.com/v1/moderations", "body": "{}"}}
                ]
            }
        )
    )
    assert main(["conformance", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 agree, 0 differ, 1 cassette(s) skipped (sync and async clients)" in out
    assert (
        "(HTTP 400)" in out and "conformance checks /chat/completions, /responses, /embeddings, not /moderations" in out
    )
    assert main(["conformance", str(tmp_path / "nowhere")]) == 2
