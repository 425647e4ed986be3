"""Re-recording against a new model: regressions fail, improvements are reported, reports match."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from promptdrift.cli.main import main as cli
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import UPGRADE_SCRIPT, UPGRADE_SUITE, write

EXPECTED = Path(__file__).parents[1] / "expected"


@pytest.fixture
def upgraded(pytester: pytest.Pytester, demo: DemoServer) -> pytest.RunResult:
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    first = pytester.runpytest("--prompt-record=new")
    first.assert_outcomes(passed=2, failed=1)  # v1 fails the greeting
    return pytester.runpytest(
        "--prompt-record=all",
        "--prompt-model=model-v2",
        "--prompt-report=out/report.md",
        "--prompt-report=out/report.json",
        "--prompt-report=out/report.html",
    )


def test_exactly_the_broken_cases_are_regressions(upgraded: pytest.RunResult) -> None:
    upgraded.assert_outcomes(passed=1, failed=2)
    assert upgraded.ret == pytest.ExitCode.TESTS_FAILED
    upgraded.stdout.fnmatch_lines(
        [
            "*REGRESSION schema *: passed before, fails now*",
            "*model: model-v1-2026-11-01 -> model-v2-2026-11-01*",
            "*REGRESSION similar *: score fell * (tolerance 0.05)*",
            "upgrade                          3      1      2       0           2         -",
            "REGRESSION suites/upgrade.yaml::extract: schema passed before, fails now",
            "improved   suites/upgrade.yaml::greeting: icontains failed before, passes now",
            "REGRESSION suites/upgrade.yaml::summary: similar score fell *",
        ]
    )
    upgraded.stdout.no_fnmatch_line("*REGRESSION*greeting*")


def _normalised_json(path: Path) -> dict:
    data = json.loads(path.read_text())
    for case in data["cases"]:
        case["latency_ms"] = None
        if case.get("baseline"):
            case["baseline"]["latency_ms"] = None
            case["baseline"]["recorded_at"] = None
    return data


def test_reports_match_the_stored_expected_files(pytester: pytest.Pytester, upgraded: pytest.RunResult) -> None:
    out = pytester.path / "out"
    markdown = (out / "report.md").read_text()
    assert markdown == (EXPECTED / "upgrade_report.md").read_text()
    assert _normalised_json(out / "report.json") == json.loads((EXPECTED / "upgrade_report.json").read_text())
    page = (out / "report.html").read_text()
    assert page.count('data-verdict="regression"') == 2 and page.count('data-verdict="improvement"') == 1
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # self-contained: nothing fetched


def test_step_summary_gets_the_markdown(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    pytester.runpytest("--prompt-record=new")
    first = summary.read_text()  # a first recording: a failing case with nothing to compare is listed too
    assert "**Fails: 1 failing case — 3 cases in 1 suite**" in first
    assert "## Failing cases (1)\n\n- `suites/upgrade.yaml::greeting`: failed: icontains" in first
    pytester.runpytest("--prompt-record=all", "--prompt-model=model-v2")
    text = summary.read_text()
    assert (
        "# promptdrift report" in text and "- `suites/upgrade.yaml::extract`: schema passed before, fails now" in text
    )


@pytest.mark.slow
def test_compare_against_a_git_ref_shows_the_same(
    pytester: pytest.Pytester, demo: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    root = pytester.path

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    pytester.runpytest("--prompt-record=new")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v1 cassettes")
    pytester.runpytest("--prompt-record=all", "--prompt-model=model-v2")
    capsys.readouterr()
    code = cli(["compare", "--base", "main", "--rootdir", str(root), "--report", str(root / "cmp.md")])
    out = capsys.readouterr().out
    assert code == 1
    assert "REGRESSION cassettes/upgrade/extract.yaml: schema passed before, fails now" in out
    assert "REGRESSION cassettes/upgrade/summary.yaml: similar score fell" in out
    assert "improved   cassettes/upgrade/greeting.yaml: icontains failed before, passes now" in out
    assert "model model-v1-2026-11-01 -> model-v2-2026-11-01" in (root / "cmp.md").read_text()
    assert "**regression**" in (root / "cmp.md").read_text()
    assert cli(["compare", "--base", "HEAD~0", "--rootdir", str(root), "--cassette-dir", "nothing"]) == 0


def test_cost_changes_are_reported_not_failed(pytester: pytest.Pytester, demo: DemoServer) -> None:
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/upgrade.yaml", UPGRADE_SUITE)
    write(
        pytester,
        "pyproject.toml",
        '[tool.promptdrift.prices]\n"model-v1" = {input = 1.0, output = 2.0}\n"model-v2" = {input = 10.0, output = 20.0}\n',
    )
    pytester.runpytest("--prompt-record=new")
    result = pytester.runpytest(
        "--prompt-record=all", "--prompt-model=model-v2", "--prompt-report=r.md", "-k", "greeting"
    )
    result.assert_outcomes(passed=1, deselected=2)
    # greeting: 4 -> 6 tokens; v1 prices for the old answer, v2 prices for the new one.
    assert re.search(r"cost \$0\.00000\d -> \$0\.0001\b", (pytester.path / "r.md").read_text())
