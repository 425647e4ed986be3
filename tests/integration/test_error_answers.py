"""Error answers: a deterministic one (400, 404, 422...) is recorded and replayed as the test saw it;
an answer about the key (401, 403) is never recorded, and the run says what its replay will lack."""

from __future__ import annotations

import pytest
import yaml

from promptdrift.testing.demo import DemoServer
from tests.helpers import FAKE_KEY, block_sockets, write

BAD_REQUEST = (
    '{"error": {"message": "Unsupported value: \'temperature\'", "type": "invalid_request_error", "code": null}}'
)

CODE_FIRST = """
import openai
import pytest

def ask(client, text):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

def test_expected_error(openai_client):
    with pytest.raises(openai.BadRequestError) as raised:
        ask(openai_client, "bad one")
    assert raised.value.status_code == 400
    assert raised.value.body["message"] == "Unsupported value: 'temperature'"

def test_error_then_success(openai_client):
    with pytest.raises(openai.BadRequestError):
        ask(openai_client, "bad one")
    assert ask(openai_client, "my order is late").choices[0].message.content.startswith("I'm so sorry")
"""


def _replay_offline(pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    block_sockets(pytester)


def test_an_expected_error_is_recorded_and_replays_offline(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "tests/test_api.py", CODE_FIRST)
    demo.fail_next(400, body=BAD_REQUEST, mimetype="application/json")
    pytester.runpytest("--prompt-record=new", "tests", "-k", "expected_error").assert_outcomes(passed=1, deselected=1)
    cassette = yaml.safe_load((pytester.path / "cassettes/tests/test_api/test_expected_error.yaml").read_text())
    (interaction,) = cassette["interactions"]
    assert interaction["response"]["status"]["code"] == 400
    assert FAKE_KEY not in str(cassette)
    _replay_offline(pytester, demo, monkeypatch)
    result = pytester.runpytest("tests", "-k", "expected_error", "-W", "error::promptdrift.RecordingGapWarning")
    result.assert_outcomes(passed=1, deselected=1)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_an_error_then_a_success_replays_unchanged_without_false_drift(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch, asynchronous: bool
) -> None:
    source = CODE_FIRST
    if asynchronous:
        source = source.replace("openai_client", "async_openai_client")
        source = source.replace(
            "def ask(client, text):\n    return client",
            "import asyncio\n\ndef ask(client, text):\n    return asyncio.run(_ask(client, text))\n\n"
            "async def _ask(client, text):\n    return await client",
        )
    write(pytester, "tests/test_api.py", source)
    demo.fail_next(400, body=BAD_REQUEST)
    pytester.runpytest("--prompt-record=new", "tests", "-k", "then_success").assert_outcomes(passed=1, deselected=1)
    _replay_offline(pytester, demo, monkeypatch)
    result = pytester.runpytest("tests", "-k", "then_success")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.no_fnmatch_line("*prompt drift*")


SUITE = """
suite: strict
model: o3-mini
params: {temperature: 0}
prompt: {user: "{{ message }}"}
cases:
  - {id: rejected, vars: {message: "my order is late"}}
"""


def test_a_suite_case_rejected_by_the_endpoint_fails_the_same_way_offline(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "suites/strict.yaml", SUITE)
    demo.fail_next(400, body=BAD_REQUEST)
    recorded = pytester.runpytest("--prompt-record=new")
    recorded.assert_outcomes(failed=1)
    said = (
        "suites/strict.yaml::rejected: the model endpoint answered HTTP 400 (Error code: 400 - "
        "Unsupported value: 'temperature'). This answer is recorded in "
        "cassettes/strict/rejected.yaml, so replay fails the same way; fix the request (prompt, model or params) "
        "and re-record: pytest suites/strict.yaml::rejected --prompt-record=changed"
    )
    recorded.stdout.fnmatch_lines([said])
    _replay_offline(pytester, demo, monkeypatch)
    replayed = pytester.runpytest()
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines([said])
    replayed.stdout.no_fnmatch_line("*no recording*")


@pytest.mark.parametrize("status", [401, 403])
def test_an_answer_about_the_key_is_not_recorded_and_the_run_says_so(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    write(
        pytester,
        "tests/test_api.py",
        CODE_FIRST.replace("BadRequestError", "APIStatusError").replace("== 400", f"== {status}"),
    )
    demo.fail_next(status, body='{"error": {"message": "Incorrect API key provided"}}')
    recorded = pytester.runpytest("--prompt-record=new", "tests", "-k", "then_success")
    recorded.assert_outcomes(passed=1, deselected=1)
    recorded.stdout.fnmatch_lines(
        [
            "*RecordingGapWarning: cassettes/tests/test_api/test_error_then_success.yaml: 1 answer(s) with "
            f"HTTP {status} were not recorded (401, 402, 403 and 407 answers are never recorded (a wrong key while "
            "recording must not become a fixture)); its replay fails until it is re-recorded with a key that "
            "works: pytest tests/test_api.py::test_error_then_success --prompt-record=changed"
        ]
    )
    text = (pytester.path / "cassettes/tests/test_api/test_error_then_success.yaml").read_text()
    assert "Incorrect API key" not in text and text.count("- request:") == 1
    _replay_offline(pytester, demo, monkeypatch)
    replayed = pytester.runpytest("tests", "-k", "then_success")
    replayed.assert_outcomes(failed=1, deselected=1)
    replayed.stdout.fnmatch_lines(
        [f"*no recording of this request in *test_error_then_success.yaml: it was answered HTTP {status} when*"]
    )
    replayed.stdout.no_fnmatch_line("*prompt drift*")


def test_a_test_whose_recording_wrote_nothing_says_so_at_the_end(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "tests/test_api.py",
        """
        import openai
        import pytest

        def test_outage(openai_client):
            with pytest.raises(Exception, match="HTTP 503"):
                openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        """,
    )
    demo.fail_next(503, times=2, headers={"retry-after-ms": "1"})
    result = pytester.runpytest("--prompt-record=new", "--prompt-max-retries=1", "tests")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*RecordingGapWarning: cassettes/tests/test_api/test_outage.yaml: nothing was written, because a call "
            "failed while recording (recording * failed on all 2 attempts: HTTP 503*"
        ]
    )
    assert not (pytester.path / "cassettes/tests/test_api/test_outage.yaml").exists()
