"""The fixed costs of a run: what a replay leaves unimported, and how the SDK is loaded when a run records.

Each check runs in a fresh ``pytest`` process (``runpytest_subprocess``): the
test process itself has the SDK loaded already (see ``conftest.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptdrift.plugin.idle_hypothesis import PLUGIN, skip_idle_summary
from promptdrift.testing.demo import DemoServer
from tests.helpers import many_cases

pytestmark = pytest.mark.slow  # pytest in subprocesses

# A plugin that writes, at the end of the run, what the process imported and what the garbage collector froze.
PROBE = """
import gc, json, sys

def pytest_sessionfinish(session):
    with open("probe.json", "w") as out:
        json.dump({"modules": sorted(m for m in ("openai", "httpx2", "vcr") if m in sys.modules),
                   "own": sorted(m for m in sys.modules if m.startswith("promptdrift.")),
                   "frozen": gc.get_freeze_count(), "gc_enabled": gc.isenabled()}, out)
"""


def probe(pytester: pytest.Pytester, *args: str) -> dict:
    pytester.makepyfile(probe_plugin=PROBE)
    result = pytester.runpytest_subprocess("-p", "probe_plugin", "-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()
    return json.loads((pytester.path / "probe.json").read_text())


def test_a_run_with_no_suite_loads_none_of_the_working_layers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    pytester.syspathinsert()
    loaded = probe(pytester)
    working = ("checks", "record", "run", "verdict", "cassettes.format", "spec.reader", "text.yamlio")
    assert [m for m in loaded["own"] if m.removeprefix("promptdrift.").startswith(working)] == []
    assert loaded["modules"] == [] and loaded["frozen"] == 0


def test_a_replay_imports_neither_the_sdk_nor_vcrpy(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 6, gate=False)
    pytester.syspathinsert()
    recorded = probe(pytester, "--prompt-record=new", "--prompt-concurrency=3")
    assert recorded["modules"] == ["httpx2", "openai", "vcr"]  # the probe sees them when they are loaded
    demo.stop()
    replayed = probe(pytester)
    assert replayed["modules"] == []
    assert replayed["frozen"] == 0  # nothing frozen where the SDK was never loaded


def test_recording_loads_the_sdk_once_and_freezes_what_it_built(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 6, gate=False)
    pytester.syspathinsert()
    recorded = probe(pytester, "--prompt-record=new", "--prompt-concurrency=3")
    assert recorded["frozen"] > 10_000  # the SDK's classes and modules are out of the collector's way
    assert recorded["gc_enabled"]  # and the collector runs again for everything the run makes afterwards


@pytest.mark.parametrize("enabled", [True, False])
def test_load_sdk_leaves_the_collector_as_it_found_it(enabled: bool) -> None:
    code = (
        "import gc, sys\n"
        f"{'' if enabled else 'gc.disable()'}\n"
        "from promptdrift.record.client import load_sdk\n"
        "load_sdk()\n"
        "first = gc.get_freeze_count()\n"
        "load_sdk()\n"
        "print(gc.isenabled(), first > 10_000, gc.get_freeze_count() == first, 'openai' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(enabled), "True", "True", "True"]


# Whether Hypothesis was imported by the time the run ended (after the terminal summary).
HYPOTHESIS_PROBE = """
import sys

def pytest_unconfigure(config):
    with open("hypothesis-imported", "w") as out:
        out.write(str("hypothesis" in sys.modules))
"""


def hypothesis_imported(pytester: pytest.Pytester, *args: str) -> tuple[bool, str]:
    pytester.makepyfile(hypothesis_probe=HYPOTHESIS_PROBE)
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("-p", "hypothesis_probe", "-p", "no:cacheprovider", *args)
    return (pytester.path / "hypothesis-imported").read_text() == "True", result.stdout.str()


def test_a_run_that_uses_no_hypothesis_never_imports_it(pytester: pytest.Pytester) -> None:
    # Hypothesis's own plugin would import all of it in its terminal summary (0.3 s a run): spared when idle.
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    for args in ((), ("-n", "2")):
        imported, output = hypothesis_imported(pytester, *args)
        assert "1 passed" in output and not imported


def test_a_failing_example_keeps_hypothesis_s_summary(pytester: pytest.Pytester, monkeypatch) -> None:
    # Its summary turns a failing example (in a report, from an xdist worker too) into a patch: it must run.
    config = pytester.parseconfigure()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    monkeypatch.delitem(sys.modules, "hypothesis", raising=False)  # as in a process where no test used it
    report = pytest.TestReport("t.py::t", ("t.py", 0, "t"), {}, "failed", None, "teardown")
    report.__dict__["_hypothesis_failing_examples"] = "[]"
    reporter.stats["failed"] = [report]
    skip_idle_summary(config)
    assert config.pluginmanager.get_plugin(PLUGIN) is not None
    del report.__dict__["_hypothesis_failing_examples"]
    skip_idle_summary(config)
    assert config.pluginmanager.get_plugin(PLUGIN) is None


def test_hypothesis_keeps_its_summary_where_it_has_something_to_say(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_prop="""
        from hypothesis import given, strategies as st

        @given(st.integers())
        def test_small(n):
            assert n < 100
        """
    )
    imported, output = hypothesis_imported(pytester, "--hypothesis-show-statistics")
    assert imported and "Hypothesis Statistics" in output and "Failing test case: test_small(" in output
    imported, output = hypothesis_imported(pytester, "--hypothesis-show-statistics", "-n", "2")
    assert "Hypothesis Statistics" in output and "test_small" in output.split("Hypothesis Statistics")[-1]
