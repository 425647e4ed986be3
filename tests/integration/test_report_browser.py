"""The HTML report opens in a real headless browser (Debian's chromium) and shows the regressions."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import UPGRADE_SCRIPT, UPGRADE_SUITE, write

pytestmark = pytest.mark.slow  # a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _dump_dom(page: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--dump-dom",
        page.as_uri(),
    ]
    result = subprocess.run([CHROMIUM, *flags], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)"
)
def test_html_report_in_headless_chromium(pytester: pytest.Pytester, demo: DemoServer, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium is missing: .ci/run installs Debian's chromium package"
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    pytester.runpytest("--prompt-record=new")
    pytester.runpytest("--prompt-record=all", "--prompt-model=model-v2", "--prompt-report=report.html")
    dom = _dump_dom(pytester.path / "report.html", tmp_path / "profile")
    # The browser parsed the page into rows: two regression rows, one improvement.
    assert dom.count('<tr class="regression"') == 2
    assert dom.count('<tr class="improvement"') == 1
    assert 'data-case="suites/upgrade.yaml::extract"' in dom and 'data-case="suites/upgrade.yaml::summary"' in dom
    assert "<title>promptdrift report</title>" in dom
