"""A recording run killed at any moment leaves only complete cassettes, and a re-run completes the set.

The run is a real ``pytest`` process recording 60 cases, 4 at a time, from
the local server; it is killed with SIGKILL at random moments (or
interrupted with SIGINT, as Ctrl-C does). After each kill every cassette on
disk must load and hold a whole answer. ``PROMPTDRIFT_STRESS=1`` kills 25
times instead of 6.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import many_cases

pytestmark = pytest.mark.slow  # pytest processes killed mid-run

KILLS = 25 if os.environ.get("PROMPTDRIFT_STRESS") else 6
CASES = 60


def start(pytester: pytest.Pytester) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # Ctrl-C as in a terminal: a job started in the background (a CI script's `&`) inherits SIGINT
    # ignored, and Python then leaves it ignored; the child puts Python's own handler back.
    child = "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); sys.exit(pytest.console_main())"
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            child,
            "-q",
            "-p",
            "no:cacheprovider",
            "--prompt-record=new",
            "--prompt-concurrency=4",
        ],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_cassettes(folder: Path, proc: subprocess.Popen[bytes], more: int, limit: float = 20.0) -> int:
    """Block until the run has written ``more`` cassettes (or ended); returns how many exist now."""
    deadline = time.monotonic() + limit
    before = len(list(folder.glob("*.yaml"))) if folder.exists() else 0
    count = before
    while time.monotonic() < deadline and proc.poll() is None:
        count = len(list(folder.glob("*.yaml"))) if folder.exists() else 0
        if count >= min(before + more, CASES):
            break
        time.sleep(0.01)
    return count


def check_complete(folder: Path) -> int:
    """Every cassette loads and holds one whole answer; returns how many there are."""
    files = sorted(folder.glob("*.yaml")) if folder.exists() else []
    for path in files:
        cassette = cassettes.load(path)
        assert len(cassette.interactions) == 1, path
        assert "sorry" in cassette.interactions[0].response_body, path
        assert cassette.meta.get("answer"), path
    return len(files)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_recording_leaves_complete_cassettes_and_a_rerun_completes_them(
    pytester: pytest.Pytester, demo: DemoServer, how: signal.Signals
) -> None:
    folder = many_cases(pytester, CASES, gate=False)
    demo.latency = 0.2  # a 3 s run: time enough to be interrupted mid-way even on a slow first start
    rng = random.Random(2026)
    kills = KILLS if how == signal.SIGKILL else 2
    counts = []
    for _ in range(kills):
        proc = start(pytester)
        # Past start-up (a first run warms up before it reacts to Ctrl-C), then a random moment
        # while cases are in flight and cassettes being written.
        wait_for_cassettes(folder, proc, 1 if how == signal.SIGKILL else 4)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(how)
        proc.wait(timeout=60)
        counts.append(check_complete(folder))
        if counts[-1] == CASES:
            break
    assert counts[0] < CASES, "the first run was killed before it finished"
    # A full run records what is missing and nothing else; replay then needs no server.
    before = len(demo.requests)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(passed=CASES)
    assert len(demo.requests) - before == CASES - counts[-1]
    assert check_complete(folder) == CASES
    assert not list(folder.glob(".*.tmp")), "temporary files are cleaned up"
    demo.stop()
    pytester.runpytest().assert_outcomes(passed=CASES)


def test_ctrl_c_sends_no_new_request_and_says_what_was_recorded(pytester: pytest.Pytester, demo: DemoServer) -> None:
    folder = many_cases(pytester, CASES, gate=False)
    demo.latency = 0.2
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    child = "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); sys.exit(pytest.console_main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", child, "-p", "no:cacheprovider", "--prompt-record=new", "--prompt-concurrency=4"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_cassettes(folder, proc, 8)
    proc.send_signal(signal.SIGINT)
    at_signal = len(demo.requests)
    out, _ = proc.communicate(timeout=60)
    written = check_complete(folder)
    assert written < CASES
    # In flight at the interrupt: at most the 4 requests --prompt-concurrency allows (one may be leaving).
    assert len(demo.requests) - at_signal <= 4, (at_signal, len(demo.requests))
    assert f"promptdrift: interrupted: {written} cassette(s) written by this run before it stopped" in out, out
    assert "no request was sent after the interrupt; record the rest with --prompt-record=new" in out
