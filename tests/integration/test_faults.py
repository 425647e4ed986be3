"""Faults while recording, injected by the local server: retried by policy, never recorded.

Each fault happens once and the retry records the real answer; a fault that
persists fails the case saying what happened, records nothing, and a re-run
records only what is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx2
import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.cassettes.format import answer_fault
from promptdrift.record.retry import RetryPolicy, retry_after
from promptdrift.testing.demo import DemoServer
from tests.helpers import write

FAST = ("--prompt-retry-backoff=0.01", "--prompt-timeout=1")

STREAM_SUITE = """
suite: support
model: gpt-4o-mini
stream: true
prompt: {user: "Customer message: {{ message }}"}
cases:
  - {id: late, vars: {message: "My order is late"}, expect: [{contains: "sorry"}]}
"""


def inject(demo: DemoServer, fault: str) -> None:
    if fault == "429":
        demo.fail_next(429)
    elif fault == "429-retry-after":
        demo.fail_next(429, headers={"retry-after": "0"})
    elif fault in ("500", "503"):
        demo.fail_next(int(fault))
    elif fault == "502-html":
        demo.fail_next(502, body="<html><body><h1>502 Bad Gateway</h1></body></html>", mimetype="text/html")
    elif fault == "200-html":
        demo.fail_next(200, body="<html><body>Please log in</body></html>", mimetype="text/html")
    elif fault == "stall":
        demo.fault_next("stall", seconds=2.5)
    else:
        demo.fault_next(fault)  # reset, truncate


def only_answer_recorded(path: Path) -> None:
    cassette = cassettes.load(path)
    assert len(cassette.interactions) == 1
    text = path.read_text()
    assert "sorry" in cassette.interactions[0].response_body
    assert "injected" not in text and "<html" not in text and "Bad Gateway" not in text


@pytest.mark.parametrize(
    "fault", ["429", "429-retry-after", "500", "502-html", "503", "200-html", "stall", "reset", "truncate"]
)
def test_fault_is_retried_and_only_the_answer_is_recorded(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, fault: str
) -> None:
    inject(demo, fault)
    result = pytester.runpytest("--prompt-record=new", "-k", "late", *FAST)
    result.assert_outcomes(passed=1, deselected=1)
    assert len(demo.requests) == 2
    only_answer_recorded(pytester.path / "cassettes/support/late.yaml")


def test_truncated_stream_is_retried(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(pytester, "suites/support.yaml", STREAM_SUITE)
    demo.fault_next("truncate")
    pytester.runpytest("--prompt-record=new", *FAST).assert_outcomes(passed=1)
    assert len(demo.requests) == 2
    path = pytester.path / "cassettes/support/late.yaml"
    assert cassettes.load(path).interactions[0].response_body.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("503", "HTTP 503 SERVICE UNAVAILABLE"),
        ("502-html", "HTTP 502 BAD GATEWAY"),
        ("200-html", "HTTP 200, but the endpoint sent an HTML page instead of an answer"),
        ("truncate", "HTTP 200, but the answer is not valid JSON"),
        ("reset", "ReadError*Connection reset by peer"),  # a TCP reset, as a dropped connection looks
        ("stall", "ReadTimeout"),
    ],
)
def test_persistent_fault_fails_clearly_and_a_rerun_records_only_what_is_missing(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, fault: str, says: str
) -> None:
    pytester.runpytest("--prompt-record=new", "-k", "invoice").assert_outcomes(passed=1, deselected=1)
    invoice = (pytester.path / "cassettes/support/invoice.yaml").read_text()
    for _ in range(2):
        inject(demo, fault)
    result = pytester.runpytest("--prompt-record=new", "--prompt-max-retries=1", *FAST)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [f"*recording cassettes/support/late.yaml failed on all 2 attempts: {says}*Nothing was recorded*"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    assert not (pytester.path / "cassettes/support/late.yaml").exists()
    assert (pytester.path / "cassettes/support/invoice.yaml").read_text() == invoice
    before = len(demo.requests)
    pytester.runpytest("--prompt-record=new", *FAST).assert_outcomes(passed=2)
    assert len(demo.requests) == before + 1  # only the missing case was requested


def test_retry_waits_are_logged_and_honour_retry_after(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    demo.fail_next(429, headers={"retry-after-ms": "300"})
    demo.fail_next(429, headers={"retry-after": "120"})  # more than the cap
    result = pytester.runpytest(
        "--prompt-record=new",
        "-k",
        "late",
        "--prompt-retry-max-wait=0.2",
        "-o",
        "log_cli=true",
        "--log-cli-level=WARNING",
    )
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*cassettes/support/late.yaml: HTTP 429 TOO MANY REQUESTS; retry 1 of 3 in 0.20 s*",
            "*cassettes/support/late.yaml: HTTP 429 TOO MANY REQUESTS; retry 2 of 3 in 0.20 s*",
        ]
    )
    assert len(demo.requests) == 3


def test_client_errors_are_not_retried(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    demo.fail_next(401, body='{"error": {"message": "Incorrect API key provided"}}')
    result = pytester.runpytest("--prompt-record=new", "-k", "late", *FAST)
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*the model endpoint answered HTTP 401*"])
    assert len(demo.requests) == 1


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(retries=5, backoff=0.5, max_wait=3.0)
    for attempt, full in enumerate([0.5, 1.0, 2.0, 3.0, 3.0]):
        waits = [policy.wait(attempt) for _ in range(200)]
        assert all(full / 2 <= w <= full for w in waits)
        assert max(waits) - min(waits) > full / 10  # jittered, not constant


def test_retry_after_forms() -> None:
    assert retry_after(httpx2.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after(httpx2.Headers({"retry-after": "7"})) == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after(httpx2.Headers({"retry-after": later})) or 0) <= 30
    assert retry_after(httpx2.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx2.Headers({})) is None
    assert RetryPolicy(max_wait=2).wait(0, httpx2.Headers({"retry-after": "9"})) == 2


@pytest.mark.parametrize(
    ("content_type", "body", "fault"),
    [
        ("application/json", b'{"choices": []}', None),
        ("application/json", b'{"choices": [', "the answer is not valid JSON"),
        ("text/event-stream", b"data: {}\n\ndata: [DONE]\n\n", None),
        ("text/event-stream", b"data: {}\n\n", "the answer stream was cut off before its end"),
        ("text/event-stream", b"event: response.completed\ndata: {}\n\n", None),
        ("text/html; charset=utf-8", b"<html></html>", "the endpoint sent an HTML page instead of an answer"),
    ],
)
def test_what_counts_as_an_answer(content_type: str, body: bytes, fault: str | None) -> None:
    assert answer_fault(content_type, body) == fault
