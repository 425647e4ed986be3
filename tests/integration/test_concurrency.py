"""Recording runs cases concurrently in one process; replay and verdicts do not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.config import Settings
from promptdrift.record.client import shared_client
from promptdrift.suite.model import Provider
from promptdrift.testing.demo import DemoServer
from tests.helpers import many_cases


def test_recording_overlaps_cases_up_to_the_concurrency(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 24)
    demo.gather(6)  # the server holds requests until 6 are in flight together: they can only if the pool sends them
    demo.latency = 0.05
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=6")
    result.assert_outcomes(passed=25)
    assert demo.max_in_flight == 6  # requests overlapped, and never more than asked
    result.stdout.fnmatch_lines(
        [
            "promptdrift: running 24 cases, up to 6 at a time (--prompt-record=new); each dot below is one finished case",
            "*promptdrift (new): 24 recorded, 24 cases in * s, up to 6 at a time*",
        ]
    )
    files = sorted((pytester.path / "cassettes/many").glob("*.yaml"))
    assert len(files) == 24
    for path in files:  # each case's answer went to its own cassette
        cassette = cassettes.load(path)
        number = int(path.stem[1:])
        assert f"order {number} is late" in cassette.interactions[0].request_body
    demo.stop()
    pytester.runpytest().assert_outcomes(passed=25)  # replay, server gone


def test_concurrency_one_records_one_at_a_time(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 5)
    demo.gather(2, timeout=0.5)  # a second request in flight would be held until the first's answer: never is
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=1")
    result.assert_outcomes(passed=6)
    assert demo.max_in_flight == 1
    result.stdout.no_fnmatch_line("promptdrift: running*")


def test_ini_twin_of_concurrency(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 8)
    demo.gather(3)
    demo.latency = 0.05
    pytester.makeini("[pytest]\npromptdrift_concurrency = 3\n")
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=9)
    assert demo.max_in_flight == 3


def test_replay_does_not_use_the_pool(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 4)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=5)
    result = pytester.runpytest()
    result.assert_outcomes(passed=5)
    result.stdout.no_fnmatch_line("promptdrift: running*")


def test_failures_and_drift_are_reported_per_case_when_concurrent(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 6)
    demo.fail_next(401, times=1)  # one case (whichever asks first) fails, unrecorded; the others record
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=4")
    result.assert_outcomes(passed=5, failed=2)  # the case and the gate
    assert len(list((pytester.path / "cassettes/many").glob("*.yaml"))) == 5
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=7)  # records the missing one


def test_exitfirst_stops_and_leaves_only_complete_cassettes(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 30)
    demo.latency = 0.1
    demo.fail_next(401, times=1)  # not recorded: the re-run records it
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=2", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    files = list((pytester.path / "cassettes/many").glob("*.yaml"))
    assert len(files) < 30  # the rest was cancelled
    for path in files:
        cassettes.load(path)
    assert not list((pytester.path / "cassettes/many").glob(".*.tmp"))
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=31)


@pytest.mark.slow
def test_xdist_records_200_cases_and_loses_nothing(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 200)
    result = pytester.runpytest("--prompt-record=new", "-n", "4")
    # While recording, the gate never runs a case itself: its cases ran on other workers, so it is settled
    # from every case's record at the end of the run (and would fail the run if it failed).
    result.assert_outcomes(passed=200, skipped=1)
    result.stdout.fnmatch_lines(["*many::gate?pass_rate? passed (from every case's record)*"])
    assert len(demo.requests) == 200  # one request per case: nothing recorded twice
    files = sorted((pytester.path / "cassettes/many").glob("*.yaml"))
    assert len(files) == 200
    for path in files:
        cassette = cassettes.load(path)
        assert f"order {int(path.stem[1:])} is late" in cassette.interactions[0].request_body
        assert "sorry" in cassette.meta["answer"]
    assert not list((pytester.path / "cassettes/many").glob(".*.tmp"))
    demo.stop()
    pytester.runpytest("-n", "4").assert_outcomes(passed=201)
    pytester.runpytest().assert_outcomes(passed=201)


def test_cases_share_one_openai_client_per_endpoint_and_key(tmp_path: Path) -> None:
    """Cases' calls go through one client per endpoint and key, not one each; another key or URL gets its own."""
    settings = Settings(rootdir=tmp_path, environ={"OPENAI_API_KEY": "sk-a" * 6, "OTHER_KEY": "sk-b" * 6})
    default, other_key, other_url = Provider(), Provider(api_key_env="OTHER_KEY"), Provider(base_url="http://x/v1")
    client = shared_client(settings, default)
    assert shared_client(settings, default) is client
    assert shared_client(settings, other_key) is not client
    assert shared_client(settings, other_key).api_key == "sk-b" * 6
    assert shared_client(settings, other_url) is not client
    assert str(shared_client(settings, other_url).base_url) == "http://x/v1/"
    east, west = (Provider(azure_endpoint="https://a.example", azure_deployment=d) for d in ("east", "west"))
    assert shared_client(settings, east) is shared_client(settings, east)
    assert shared_client(settings, east) is not shared_client(settings, west)
