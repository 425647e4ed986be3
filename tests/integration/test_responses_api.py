"""The Responses API: plain and streamed, wrong answers, chat-only parameters, chosen by a provider."""

from __future__ import annotations

import json

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import record_and_replay, script, write

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


def test_a_provider_can_choose_the_responses_api(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, {"when": {"contains": "late"}, "reply": {"json": {"mood": "sorry"}}})
    write(pytester, "fixtures/reply.json", json.dumps(REPLY_SCHEMA))
    write(pytester, "suites/replies.yaml", RESPONSES.replace("api: responses\n", "provider: {api: responses}\n"))
    record_and_replay(pytester, demo, passed=1)
    assert cassettes.load(pytester.path / "cassettes/replies/late.yaml").interactions[0].uri.endswith("/v1/responses")
