"""A key echoed by the endpoint never reaches a message, a report or a cassette, however it is cut.

Error bodies are scrubbed before they are shortened for a message; reason phrases and the values of
allow-listed headers are scrubbed too; ``promptdrift scan`` finds a credential variable's value whatever
its shape. The key here is not key-shaped: only knowing the variable's value can catch it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptdrift.cli.main import main
from promptdrift.config import Settings
from promptdrift.core.errors import PromptdriftError
from promptdrift.core.modes import RecordMode
from promptdrift.record.client import open_channel
from promptdrift.testing.conformance import AnswerServer, Canned

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no run of 8 of these occurs in promptdrift's own words
ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
}


def leaked(key: str, text: str) -> str | None:
    """A run of 8 or more characters of ``key`` found in ``text``."""
    return next((key[i : i + 8] for i in range(len(key) - 7) if key[i : i + 8] in text), None)


def call(server: AnswerServer, folder: Path, key: str, *answers: Canned) -> tuple[str, str]:
    """One chat call recorded through promptdrift with ``key`` as the API key: (its error message, the cassette)."""
    server.queue.clear()
    server.queue.extend(answers)
    environ = {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": server.base_url}
    settings = Settings(rootdir=folder, record=RecordMode.ALL, environ=environ, retry_backoff=0.0, max_retries=1)
    cassette = settings.cassettes / "c.yaml"
    channel = open_channel(settings, cassette, "suites/s.yaml::c")
    message = ""
    try:
        channel.chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "suites/s.yaml::c")
    except PromptdriftError as exc:
        message = str(exc)
    if channel.recorder.needs_save:
        channel.recorder.save({"suite": "s", "case": "c"})
    return message, cassette.read_text() if cassette.exists() else ""


def answer(status: int, body: str, reason: str = "", headers: tuple[tuple[str, str], ...] = ()) -> Canned:
    return Canned(
        "POST",
        "/chat/completions",
        None,
        status,
        (("content-type", "application/json"), *headers),
        body.encode(),
        reason=reason,
    )


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(
    key=st.text(ALPHABET, min_size=8, max_size=64),
    before=st.integers(0, 260),
    status=st.sampled_from([400, 401, 403, 404, 422]),
)
@example(key="K" * 31 + "Z", before=200 - len("Error code: 401 - {'message': '") - 31, status=401)
def test_an_error_body_that_echoes_the_key_is_scrubbed_before_it_is_cut(
    answer_server: AnswerServer, tmp_path: Path, key: str, before: int, status: int
) -> None:
    body = json.dumps({"error": {"message": "." * before + f"Incorrect API key provided: {key}.", "type": "auth"}})
    message, cassette = call(answer_server, tmp_path, key, answer(status, body))
    assert f"HTTP {status}" in message
    assert leaked(key, message) is None, message
    assert leaked(key, cassette) is None, cassette


@FAST
@given(key=st.text(ALPHABET, min_size=8, max_size=40))
def test_reason_phrases_and_kept_headers_are_scrubbed(answer_server: AnswerServer, tmp_path: Path, key: str) -> None:
    busy = answer(503, "{}", reason=f"Busy for {key}")
    message, _ = call(answer_server, tmp_path, key, busy, busy)
    assert "HTTP 503 Busy for <redacted:$OPENAI_API_KEY>" in message and leaked(key, message) is None, message
    fine = answer(200, json.dumps(ANSWER), reason=f"OK {key}", headers=(("openai-version", key),))
    message, cassette = call(answer_server, tmp_path, key, fine)
    assert not message and "openai-version" in cassette
    assert leaked(key, cassette) is None, cassette


def test_scan_finds_a_credential_variables_value_whatever_its_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "QZ7TW2KXM9PA4RC8"  # not key-shaped: no sk- prefix
    (tmp_path / "c.yaml").write_text(f"interactions:\n- response: {{body: {{string: 'echo {key}'}}}}\n")
    monkeypatch.setenv("OPENAI_API_KEY", key)
    assert main(["scan", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "c.yaml:2: the value of $OPENAI_API_KEY: QZ7TW… (16 characters)" in out
    assert leaked(key, out) is None
    monkeypatch.setenv("OPENAI_API_KEY", "another-value-entirely")
    assert main(["scan", str(tmp_path)]) == 0
