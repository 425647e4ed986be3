"""Nothing that authenticates or identifies an account is ever written to a cassette."""

from __future__ import annotations

import pytest

from promptdrift.cli.scan import scan
from promptdrift.testing.demo import DemoServer
from tests.helpers import FAKE_KEY, FAKE_ORG, FAKE_PROJECT, write

SECRETS = [FAKE_KEY, FAKE_ORG, FAKE_PROJECT, "SECRETCOOKIE", "req_", "Bearer", "x-stainless", "user-agent"]


def _all_cassette_text(pytester: pytest.Pytester) -> str:
    files = sorted((pytester.path / "cassettes").rglob("*.yaml"))
    assert files, "nothing was recorded"
    return "\n".join(f.read_text() for f in files)


def test_no_secret_in_openai_cassettes(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    # The client really sent them, and the server really answered with them...
    sent = demo.requests[0]["headers"]
    assert sent["Authorization"] == f"Bearer {FAKE_KEY}"
    assert sent["Openai-Organization"] == FAKE_ORG and sent["Openai-Project"] == FAKE_PROJECT
    # ...and none of them reached a cassette.
    text = _all_cassette_text(pytester)
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret
    assert "set-cookie" not in text.lower() and "openai-organization" not in text.lower()
    assert scan([pytester.path / "cassettes"]) == []


def test_no_secret_in_azure_cassettes(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azkey0123456789abcdef0123456789ab")
    endpoint = demo.base_url.removesuffix("/v1")
    write(
        pytester,
        "suites/azure.yaml",
        f"""
        suite: azure
        model: gpt-4o-mini
        provider:
          api_key_env: AZURE_OPENAI_API_KEY
          azure: {{endpoint: "{endpoint}", deployment: support-prod, api_version: "2024-10-21"}}
        prompt: {{user: "{{{{ q }}}}"}}
        cases:
          - id: late
            vars: {{q: "my order is late"}}
            expect: [{{contains: sorry}}]
        """,
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    assert demo.requests[0]["headers"]["Api-Key"] == "azkey0123456789abcdef0123456789ab"
    assert demo.requests[0]["path"] == "/openai/deployments/support-prod/chat/completions"
    text = _all_cassette_text(pytester)
    assert "azkey0123456789abcdef" not in text and "api-key" not in text.lower()
    assert "api-version=2024-10-21" in text
    demo.stop()
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    pytester.runpytest().assert_outcomes(passed=1)


def test_query_string_secrets_are_dropped(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "test_query.py",
        """
        def test_query(openai_client):
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "late?"}],
                extra_query={"api-key": "sk-querysecret0123456789012345", "api-version": "1"},
            )
            assert "sorry" in reply.choices[0].message.content
        """,
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    assert "sk-querysecret" in demo.requests[0]["query"]
    text = _all_cassette_text(pytester)
    assert "sk-querysecret" not in text
    assert "api-version=1" in text


def test_library_debug_logs_are_redacted(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx logs URLs (query strings too) and httpcore response headers at DEBUG; CI logs are often public."""
    monkeypatch.setenv("T_QUERY", "sk-querysecret0123456789012345")
    monkeypatch.setenv("T_MINE", "sk-notouch0123456789012345")
    write(
        pytester,
        "test_logs.py",
        """
        import logging
        import os

        def test_logs(openai_client):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "late?"}],
                extra_query={"key": os.environ["T_QUERY"]},
            )
            logging.getLogger("tests").info("user log lines are left alone: " + os.environ["T_MINE"])
            assert False, "show the captured log"
        """,
    )
    result = pytester.runpytest("--prompt-record=new", "--log-level=DEBUG")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "HTTP Request: POST" in out and "key=[redacted]" in out
    for secret in ("sk-querysecret", FAKE_KEY, FAKE_ORG, FAKE_PROJECT, "SECRETCOOKIE"):
        assert secret not in out, secret
    assert "sk-notouch0123456789012345" in out  # only the HTTP and SDK loggers are filtered


def test_redact_shapes() -> None:
    from promptdrift.cassettes.secrets import redact, secret_values

    known = secret_values({"MY_API_KEY": "plainvalue123", "HOME": "/root", "SHORT_TOKEN": "abc"})
    assert known == ["plainvalue123"]
    text = "x plainvalue123 Bearer abcdefghijklmnop1234 ?api-key=zzz&v=1 org-ABCDEFGHIJKLMNOPQRSTUV"
    assert redact(text, known) == "x [redacted] Bearer [redacted] ?api-key=[redacted]&v=1 [redacted]"
