"""A secret in a request or response body never reaches a cassette, a report or the terminal.

The probe a new user would try: a code-first test that puts the API key into a
message and into ``user=``, against a server that echoes it back. The key is
sent (the server sees it), and every cassette holds a placeholder instead;
replay, which scrubs the live request the same way, still matches.
"""

from __future__ import annotations

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import FAKE_KEY, block_sockets, write

PLAIN_KEY = "plain-secret-value-123"  # no key shape: only its being the API key variable's value gives it away

ECHO = {"rules": [{"when": {"pattern": r"debug: (?P<k>\S+)"}, "reply": "echo {k} end"}], "default": "no"}

PROBES = {
    "sync": """
        import os

        def test_probe(openai_client):
            key = os.environ["OPENAI_API_KEY"]
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"debug: {key}"}], user=key
            )
            assert reply.choices[0].message.content.startswith("echo ")
        """,
    "async": """
        import asyncio, os

        def test_probe(async_openai_client):
            key = os.environ["OPENAI_API_KEY"]

            async def ask():
                return await async_openai_client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"debug: {key}"}], user=key
                )

            assert asyncio.run(ask()).choices[0].message.content.startswith("echo ")
        """,
    "streamed": """
        import os

        def test_probe(openai_client):
            key = os.environ["OPENAI_API_KEY"]
            stream = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"debug: {key}"}], user=key, stream=True
            )
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            assert text.startswith("echo ")
        """,
    "responses": """
        import os

        def test_probe(openai_client):
            key = os.environ["OPENAI_API_KEY"]
            reply = openai_client.responses.create(model="gpt-4o-mini", input=f"debug: {key}", user=key)
            assert reply.output_text.startswith("echo ")
        """,
    "responses-streamed": """
        import os

        def test_probe(openai_client):
            key = os.environ["OPENAI_API_KEY"]
            events = openai_client.responses.create(model="gpt-4o-mini", input=f"debug: {key}", user=key, stream=True)
            text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
            assert text.startswith("echo ")
        """,
}


@pytest.mark.parametrize("key", [FAKE_KEY, PLAIN_KEY], ids=["key-shaped", "plain"])
@pytest.mark.parametrize("probe", sorted(PROBES))
def test_the_api_key_in_a_body_is_scrubbed_and_replay_still_matches(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch, probe: str, key: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", key)
    demo.script = Script.from_data(ECHO)
    pytester.makepyfile(test_probe=PROBES[probe])
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    assert any(key in str(r["json"]) for r in demo.requests), "the key really was sent"
    text = (pytester.path / "cassettes/test_probe/test_probe.yaml").read_text()
    assert key not in text
    assert "<redacted:$OPENAI_API_KEY>" in text
    (interaction,) = cassettes.load(pytester.path / "cassettes/test_probe/test_probe.yaml").interactions
    assert "<redacted:$OPENAI_API_KEY>" in interaction.response_body  # the echo, scrubbed (streamed: in its delta)
    assert "<redacted:$OPENAI_API_KEY>" in interaction.request_body
    demo.stop()
    block_sockets(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")  # the live request holds the key; scrubbed, it matches
    result.assert_outcomes(passed=1)
    assert key not in result.stdout.str()


SUITE = """
suite: debug
model: gpt-4o-mini
prompt: {user: "debug: {{ token }}"}
cases:
  - id: token
    vars: {token: "sk-test-notasecret0123456789ab"}
    expect: [{contains: "echo"}]
"""


@pytest.mark.parametrize("keep", [False, True], ids=["scrubbed", "scrub-key-shapes-false"])
def test_key_shaped_strings_that_are_not_secrets_can_be_kept(
    pytester: pytest.Pytester, demo: DemoServer, keep: bool
) -> None:
    demo.script = Script.from_data(ECHO)
    write(pytester, "suites/debug.yaml", SUITE + ("scrub: {key_shapes: false}\n" if keep else ""))
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes/debug/token.yaml").read_text()
    assert ("sk-test-notasecret0123456789ab" in text) is keep
    assert ("<redacted:openai-key>" in text) is not keep
    assert FAKE_KEY not in text
    demo.stop()
    pytester.runpytest().assert_outcomes(passed=1)  # replays either way


def test_a_code_first_test_can_keep_key_shapes_with_a_marker(pytester: pytest.Pytester, demo: DemoServer) -> None:
    demo.script = Script.from_data(ECHO)
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.promptdrift_scrub(key_shapes=False)
        def test_kept(prompt):
            assert prompt.run(messages=[{"role": "user", "content": "debug: sk-test-notasecret0123456789ab"}],
                              model="gpt-4o-mini").text.startswith("echo")
        """
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes/test_marked/test_kept.yaml").read_text()
    assert "sk-test-notasecret0123456789ab" in text


def test_a_malformed_scrub_setting_names_the_file(pytester: pytest.Pytester) -> None:
    write(pytester, "suites/debug.yaml", SUITE + "scrub: {key_shapes: maybe}\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/debug.yaml:*scrub must be {key_shapes: true} or {key_shapes: false}*"])


def test_an_error_answer_that_echoes_the_key_is_shown_scrubbed(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    demo.fail_next(400, body='{"error": {"message": "bad key ' + FAKE_KEY + '", "type": "invalid_request_error"}}')
    result = pytester.runpytest("--prompt-record=new", "-k", "late")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*answered HTTP 400*bad key <redacted:$OPENAI_API_KEY>*"])
    assert FAKE_KEY not in result.stdout.str()
