"""Shared fixtures: a real OpenAI-compatible server on 127.0.0.1 and helpers to write suites.

Tests run pytest on small suites with ``pytester`` against this server,
through the real ``openai`` client and real vcrpy cassette files; nothing
is mocked.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptdrift.checks import load_all
from promptdrift.testing.demo import DemoServer, Script

# pytester's in-process runs restore sys.modules afterwards; modules imported here
# stay loaded (jsonpath-ng's parser breaks if it is imported a second time).
load_all()
import bm25s  # noqa: E402,F401  - numpy (under bm25s) cannot be imported a second time in one process

# httpx2 loads httpcore2 when its first transport is made: an inner run that did so would otherwise drop
# httpcore2, and the next run's httpx2 would no longer recognise its exceptions as its own to translate.
import httpcore2  # noqa: E402,F401
import openai  # noqa: E402,F401  - promptdrift imports these lazily; importing them here, once,
import vcr  # noqa: E402,F401  - saves every inner run a second of re-importing them

import promptdrift.record.transport  # noqa: E402  - the connection pool lives as long as the test process
import promptdrift.run.case  # noqa: E402,F401  - the runner and jinja2, loaded once like the modules above

pytest_plugins = ["pytester"]

# Key-shaped values the server and client use; no cassette may contain them.
FAKE_KEY = "sk-proj-testkey0123456789abcdefABCDEF"
FAKE_ORG = "org-TESTORG1234567890"
FAKE_PROJECT = "proj_TESTPROJECT123456"

DEFAULT_SCRIPT = {
    "rules": [
        {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late. We'll fix it today."},
        {"when": {"contains": "invoice"}, "reply": {"json": {"total": 42.5, "currency": "EUR"}}},
        {"when": {"contains": "refund"}, "reply": "Refund guaranteed!"},
    ],
    "default": "Thanks for reaching out.",
}


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoServer]:
    """A started demo server; the environment points the ``openai`` SDK at it."""
    server = DemoServer(Script.from_data(DEFAULT_SCRIPT))
    server.extra_headers = {
        "openai-organization": FAKE_ORG,
        "openai-project": FAKE_PROJECT,
        "set-cookie": "__cf_bm=SECRETCOOKIE123; path=/",
        "x-ratelimit-remaining-requests": "99",
    }
    server.start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_ORG_ID", FAKE_ORG)
    monkeypatch.setenv("OPENAI_PROJECT_ID", FAKE_PROJECT)
    yield server
    server.stop()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key and an endpoint where nothing listens: replay must not need either."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")


NO_SOCKETS = """
import socket

_saved = {}


def _refuse(*args, **kwargs):
    raise AssertionError("promptdrift opened a socket while replaying")


def pytest_configure(config):
    # For the whole run (collection, hooks, tests), not just inside tests.
    _saved.update(connect=socket.socket.connect, create_connection=socket.create_connection)
    socket.socket.connect = _refuse
    socket.create_connection = _refuse


def pytest_unconfigure(config):
    socket.socket.connect = _saved["connect"]
    socket.create_connection = _saved["create_connection"]
"""


def block_sockets(pytester: pytest.Pytester) -> None:
    """A conftest that makes any socket connection fail for the whole inner pytest run."""
    (pytester.path / "conftest.py").write_text(NO_SOCKETS, encoding="utf-8")


def write(pytester: pytest.Pytester, relpath: str, text: str) -> Path:
    """Write a file below the pytester root."""
    path = pytester.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


SUPPORT_SUITE = """
suite: support
model: gpt-4o-mini
params: {temperature: 0, max_tokens: 100}
prompt:
  system: You are a support assistant. Be warm.
  few_shot:
    - {user: "Hi", assistant: "Hello! How can I help?"}
  user: "Customer message: {{ message }}"
expect:
  - not_contains: ["guarantee"]
cases:
  - id: late
    vars: {message: "My order is late"}
    expect:
      - contains_any: ["sorry", "apolog"]
  - id: invoice
    vars: {message: "Send my invoice"}
    expect:
      - json: true
      - json_path: {path: "$.total", equals: 42.5}
"""


@pytest.fixture
def support_suite(pytester: pytest.Pytester) -> Path:
    return write(pytester, "suites/support.yaml", SUPPORT_SUITE)


def many_cases(pytester: pytest.Pytester, count: int, *, gate: bool = True) -> Path:
    """``suites/many.yaml``: ``count`` cases ``c000``... asking about order N (optionally a pass-rate gate).

    Returns the folder its cassettes go to.
    """
    cases = "\n".join(f'  - {{id: c{i:03d}, vars: {{message: "order {i} is late"}}}}' for i in range(count))
    gate_line = "gate: {pass_rate: {min: 1.0}}\n" if gate else ""
    text = (
        'suite: many\nmodel: gpt-4o-mini\nprompt: {user: "{{ message }}"}\nexpect: [{contains: "sorry"}]\n'
        f"{gate_line}cases:\n{cases}\n"
    )
    (pytester.path / "suites").mkdir(exist_ok=True)
    (pytester.path / "suites" / "many.yaml").write_text(text, encoding="utf-8")
    return pytester.path / "cassettes" / "many"


def assert_invalid_suite(pytester: pytest.Pytester, text: str, pattern: str) -> None:
    """``suites/bad.yaml`` with ``text`` fails as one item whose message matches ``pattern`` (fnmatch)."""
    write(pytester, "suites/bad.yaml", text)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([pattern])


def drift_after_edit(pytester: pytest.Pytester, path: str, old: str, new: str) -> pytest.RunResult:
    """Record everything, replace ``old`` with ``new`` in the file at ``path``, replay: one case drifts."""
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    target = pytester.path / path
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new), encoding="utf-8")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*prompt drift*"])
    return result


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
