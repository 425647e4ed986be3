"""Error responses are never recorded as answers, and nothing already recorded is lost."""

from __future__ import annotations

import pytest

from promptdrift.testing.demo import DemoServer


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_retryable_error_is_retried_and_never_recorded(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, status: int
) -> None:
    demo.fail_next(status, headers={"retry-after-ms": "1"})
    result = pytester.runpytest("--prompt-record=new", "-k", "late")
    result.assert_outcomes(passed=1, deselected=1)
    assert len(demo.requests) == 2  # retried after the error
    text = (pytester.path / "cassettes/support/late.yaml").read_text()
    assert "injected" not in text and text.count("- request:") == 1


def test_persistent_error_fails_with_status_and_leaves_no_cassette(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    demo.fail_next(500, times=4, headers={"retry-after-ms": "1"})
    result = pytester.runpytest("--prompt-record=new", "-k", "late")
    result.assert_outcomes(failed=1, deselected=1)
    assert len(demo.requests) == 4  # the first try and max_retries=3 retries
    result.stdout.fnmatch_lines(
        [
            "*recording cassettes/support/late.yaml failed on all 4 attempts: HTTP 500 INTERNAL SERVER ERROR. "
            "Nothing was recorded for this call; when the endpoint works again, re-run to record what is missing: "
            "pytest suites/support.yaml::late --prompt-record=new"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    assert not (pytester.path / "cassettes/support/late.yaml").exists()
    # A re-run records only what is missing.
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)


def test_client_error_is_not_recorded_and_old_cassette_is_kept(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    before = (pytester.path / "cassettes/support/late.yaml").read_text()
    demo.fail_next(400, body='{"error": {"message": "bad request"}}')
    result = pytester.runpytest("--prompt-record=all", "-k", "late")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*answered HTTP 400 (Error code: 400 - bad request). Not recorded: the previous recording in "
            "cassettes/support/late.yaml is kept as it was; fix the request (prompt, model or params) and re-record: "
            "pytest suites/support.yaml::late --prompt-record=changed"
        ]
    )
    assert (pytester.path / "cassettes/support/late.yaml").read_text() == before
