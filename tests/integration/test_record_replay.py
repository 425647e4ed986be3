"""Record through the real openai client into cassettes, then replay with the server gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vcr
import vcr.serialize
import yaml
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from promptdrift.cassettes import format as cassettes
from promptdrift.cassettes.format import Interaction
from promptdrift.cassettes.naming import case_cassette
from promptdrift.config import Settings
from promptdrift.core.modes import RecordMode
from promptdrift.record.adapters import ADAPTERS
from promptdrift.record.client import Channel
from promptdrift.record.recorder import Recorder
from promptdrift.run.conversation import Conversation
from promptdrift.suite.reader import load_suite
from promptdrift.testing.demo import DemoServer
from tests.helpers import block_sockets, many_cases, write


def test_record_then_replay_with_server_stopped(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*suites/support.yaml::late PASSED*", "*promptdrift (new): 2 recorded*"])
    assert len(demo.requests) == 2
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    replay = pytester.runpytest("-v")
    replay.assert_outcomes(passed=2)
    replay.stdout.fnmatch_lines(["*promptdrift (none): 2 replayed*"])


def test_cassette_is_readable_vcrpy_format_with_metadata(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    path = pytester.path / "cassettes" / "support" / "late.yaml"
    text = path.read_text()
    # JSON bodies are pretty-printed as literal blocks, so diffs show the answer line by line.
    assert '"content": "I\'m so sorry your order is late. We\'ll fix it today."' in text
    data = yaml.safe_load(text)
    assert data["version"] == 1
    meta = data["metadata"]["promptdrift"]
    assert meta["model_requested"] == "gpt-4o-mini"
    assert meta["model_returned"] == "gpt-4o-mini-demo"
    assert meta["suite"] == "support" and meta["case"] == "late"
    assert meta["recorded_at"].startswith("20")
    assert len(meta["fingerprint"]) == 16
    [call] = meta["interactions"]
    assert call["usage"]["total_tokens"] > 0 and call["latency_ms"] >= 0
    assert {c["check"]: c["passed"] for c in meta["checks"]} == {"not_contains": True, "contains_any": True}
    body = json.loads(data["interactions"][0]["request"]["body"])
    assert body["messages"][-1] == {"role": "user", "content": "Customer message: My order is late"}
    assert body["temperature"] == 0 and body["max_tokens"] == 100


def test_cassette_loads_with_plain_vcr_use_cassette(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    path = pytester.path / "cassettes" / "support" / "late.yaml"
    with vcr.use_cassette(str(path), record_mode="none") as cassette:
        assert len(cassette) == 1
        assert cassette.requests[0].method == "POST"
        assert cassette.requests[0].path == "/v1/chat/completions"
    # promptdrift checks the version without importing vcrpy; it must be vcrpy's.
    assert cassettes.VCR_FORMAT_VERSION == vcr.serialize.CASSETTE_FORMAT_VERSION


def test_streaming_round_trip(pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        pytester,
        "suites/stream.yaml",
        """
        suite: stream
        model: gpt-4o-mini
        stream: true
        params: {stream_options: {include_usage: true}}
        prompt: {user: "{{ q }}"}
        cases:
          - id: late
            vars: {q: "my parcel is late"}
            expect: [{contains: "so sorry your order is late"}]
        """,
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes/stream/late.yaml").read_text()
    assert "data: [DONE]" in text  # server-sent events kept as text
    meta = yaml.safe_load(text)["metadata"]["promptdrift"]
    assert meta["answer"] == "I'm so sorry your order is late. We'll fix it today."
    assert meta["interactions"][0]["usage"]["completion_tokens"] == 11
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    pytester.runpytest().assert_outcomes(passed=1)


def test_failed_check_shows_answer_check_and_reason(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "suites/refund.yaml",
        """
        suite: refund
        model: gpt-4o-mini
        prompt: {user: "{{ q }}"}
        expect:
          - not_contains: ["guarantee"]
        cases:
          - id: ask
            vars: {q: "I want a refund"}
        """,
    )
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 of 1 checks failed:*",
            "*FAIL not_contains*found 'guarantee' at*Refund guaranteed*",
            "*answer:*",
            "*| Refund guaranteed!*",
            "*cassette: cassettes/refund/ask.yaml (recorded now)*",
        ]
    )
    # The answer is recorded even though a check failed: replay reproduces the failure offline.
    demo.stop()
    pytester.runpytest().assert_outcomes(failed=1)


def test_no_network_and_no_key_needed_to_replay(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    block_sockets(pytester)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_compressed_answers_are_stored_decoded(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.gzip = True
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    assert "gzip" in demo.requests[0]["headers"]["Accept-Encoding"]
    text = (pytester.path / "cassettes/support/late.yaml").read_text()
    assert "I'm so sorry your order is late" in text  # readable, not gzip bytes
    assert "content-encoding" not in text.lower()
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    pytester.runpytest().assert_outcomes(passed=2)


def test_the_socket_guard_really_blocks(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    # The guard used by the replay tests would catch a connection: recording through it fails.
    block_sockets(pytester)
    result = pytester.runpytest("--prompt-record=all", "-k", "late")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*promptdrift opened a socket while replaying*"])
    assert demo.requests == []


class _SdkOnly(Recorder):
    """A recorder without the fast path: every request goes through the ``openai`` client."""

    def find(self, method: str, path: str, body: object) -> None:
        return None


def sdk_view(interaction: Interaction) -> tuple[str, str | None, str | None, list[str]]:
    """Text, finish reason, model and tool names of a recorded answer, as the ``openai`` SDK's own types read it."""
    body = interaction.response_body
    if interaction.uri.endswith("/responses"):
        if interaction.is_event_stream:
            body = json.dumps(
                next(e["response"] for e in cassettes.sse_documents(body) if e["type"] == "response.completed")
            )
        response = Response.model_validate_json(body)
        calls = [item.name for item in response.output if item.type == "function_call"]
        finish = "tool_calls" if calls else "length" if response.status == "incomplete" else "stop"
        return response.output_text, finish, response.model, calls
    completion = ChatCompletion.model_validate_json(body)
    message = completion.choices[0].message
    names = [c.function.name for c in message.tool_calls or []]
    return message.content or "", completion.choices[0].finish_reason, completion.model, names


@pytest.mark.usefixtures("offline")
def test_fast_replay_reads_the_same_answers_as_the_sdk() -> None:
    """The fast path (answers read straight from the cassette) and the SDK path agree on every example case,
    every call of it (turns, tool rounds, graders), and both read answers as the SDK's own types do."""
    root = Path(__file__).resolve().parents[2]
    settings = Settings(rootdir=root)
    compared = apis = 0
    for path in sorted((root / "suites").glob("*.yaml")):
        base = load_suite(path, root)
        for suite, case in [(s, c) for s in (base.variants or (base,)) for c in s.cases]:
            cassette = case_cassette(settings.cassettes, suite.name, suite.variant, case.id)
            samples = []
            for kind in (Recorder, _SdkOnly):
                recorder = kind(cassette, RecordMode.NONE, display=cassette.name, target=case.id)
                channel = Channel(settings, recorder)
                samples.append(Conversation(suite, case, settings, channel).run())
                assert all(recorder.played), "every recorded call was replayed"
            assert samples[0] == samples[1]
            for interaction in recorder.interactions:
                api = ADAPTERS["responses" if interaction.uri.endswith("/responses") else "chat"]
                if not interaction.uri.endswith(api.path):
                    continue  # embeddings
                ours = api.parse(interaction)
                assert (ours.text, ours.finish_reason, ours.model, [c["name"] for c in ours.tool_calls]) == sdk_view(
                    interaction
                )
                apis += api.name == "responses"
            compared += 1
    assert compared >= 20 and apis >= 2


def test_a_recording_run_flushes_its_cassettes_to_disk_once(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    syncs: list[int] = []
    monkeypatch.setattr(os, "sync", lambda: syncs.append(1))
    many_cases(pytester, 3)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=4)
    assert syncs == [1]  # one flush for the run, not one per cassette
    pytester.runpytest().assert_outcomes(passed=4)
    assert syncs == [1]  # a replay writes nothing, so flushes nothing
