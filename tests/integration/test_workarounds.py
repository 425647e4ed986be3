"""Each global or borrowed mechanism (docs/workarounds.md) has an environment variable that turns it off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from promptdrift.core.workarounds import WORKAROUNDS, enabled
from promptdrift.testing.demo import DemoServer
from tests.helpers import many_cases, write

pytestmark = pytest.mark.slow  # each opt-out is tried in a process of its own

OFF = "1"


def python(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    return done.stdout + done.stderr


def test_every_workaround_is_documented_with_its_variable() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "workarounds.md").read_text(encoding="utf-8")
    for name in WORKAROUNDS:
        assert f"PROMPTDRIFT_NO_{name}=1" in text, name
    assert enabled("GC_FREEZE")


def test_gc_freeze_can_be_turned_off() -> None:
    code = "import gc\nfrom promptdrift.record.client import load_sdk\nload_sdk()\nprint(gc.get_freeze_count())"
    assert int(python(code).split()[-1]) > 10_000
    assert int(python(code, PROMPTDRIFT_NO_GC_FREEZE=OFF).split()[-1]) == 0


def test_the_idle_hypothesis_summary_can_be_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    probe = (
        "import sys\n\ndef pytest_unconfigure(config):\n    open('seen', 'w').write(str('hypothesis' in sys.modules))\n"
    )
    pytester.makepyfile(hypothesis_probe=probe)
    pytester.syspathinsert()
    for value, imported in (("", "False"), (OFF, "True")):
        os.environ["PROMPTDRIFT_NO_IDLE_HYPOTHESIS"] = value
        try:
            pytester.runpytest_subprocess("-p", "hypothesis_probe", "-p", "no:cacheprovider")
        finally:
            del os.environ["PROMPTDRIFT_NO_IDLE_HYPOTHESIS"]
        assert (pytester.path / "seen").read_text() == imported


def test_the_demo_server_can_run_on_werkzeugs_own_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTDRIFT_NO_KEEPALIVE_DEMO", OFF)
    with DemoServer() as demo:
        answer = httpx2.get(f"{demo.base_url}/models")
        assert answer.status_code == 200 and answer.json()["data"][0]["id"] == "demo"
        assert demo._server.is_running() and demo._http.port == 0  # werkzeug's, not the keep-alive server


def test_the_sigint_handler_can_be_left_out(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_cases(pytester, 2, gate=False)
    write(
        pytester,
        "tests/test_handler.py",
        """
        import signal

        def test_handler(openai_client):
            open("handler", "w").write(getattr(signal.getsignal(signal.SIGINT), "__name__", "?"))
        """,
    )
    pytester.runpytest("--prompt-record=new", "tests")
    assert (pytester.path / "handler").read_text() == "halt"
    monkeypatch.setenv("PROMPTDRIFT_NO_SIGINT_HALT", OFF)
    pytester.runpytest("--prompt-record=all", "tests")
    assert (pytester.path / "handler").read_text() == "default_int_handler"


def test_the_old_module_names_can_be_refused() -> None:
    assert "promptdrift.suite" in python(
        "import warnings; warnings.simplefilter('ignore'); import promptdrift.spec as s; print(s.__name__)"
    )
    assert "ModuleNotFoundError" in python("import promptdrift.spec", PROMPTDRIFT_NO_MOVED_MODULES=OFF)
