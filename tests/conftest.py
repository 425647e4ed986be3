"""Shared fixtures: a real OpenAI-compatible server on 127.0.0.1, an offline environment, a suite.

Tests run pytest on small suites with ``pytester`` against this server,
through the real ``openai`` client and real vcrpy cassette files; nothing
is mocked. Helpers to import live in ``tests/helpers.py``; tests are split
into ``unit/`` (functions, no pytest run inside) and ``integration/``
(pytest runs on suites written by the test, the demo server, subprocesses).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptdrift.checks import load_all
from promptdrift.testing.conformance import AnswerServer
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import DEFAULT_SCRIPT, FAKE_KEY, FAKE_ORG, FAKE_PROJECT, SUPPORT_SUITE, write

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


@pytest.fixture
def support_suite(pytester: pytest.Pytester) -> Path:
    return write(pytester, "suites/support.yaml", SUPPORT_SUITE)


@pytest.fixture(scope="module")
def answer_server() -> Iterator[AnswerServer]:
    """A local server answering each request with the next queued canned answer (promptdrift.testing.conformance)."""
    with AnswerServer() as running:
        yield running
