"""A cassette edited by hand is visible: replay, compare and the reports name it; strict mode fails it.

promptdrift writes a digest of each cassette's interactions and metadata when
it records. An edited answer, an edited request or an edited metadata block no
longer matches it; the same cassette merely reformatted (YAML style, JSON
indentation) still does. Cassettes from before digests are said once, never failed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptdrift.cassettes import format as cassettes
from promptdrift.cli.main import main as cli
from promptdrift.testing.demo import DemoServer

LATE = "cassettes/support/late.yaml"
EDITED_LINE = f"EDITED     {LATE}: edited by hand since it was recorded (its digest does not match)*"


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def edit_answer(data: dict[str, Any]) -> None:
    body = data["interactions"][0]["response"]["body"]
    body["string"] = body["string"].replace("today", "right now")


def edit_request(data: dict[str, Any]) -> None:
    request = data["interactions"][0]["request"]
    request["body"] = request["body"].replace("Be warm.", "Be cold.")


def edit_metadata(data: dict[str, Any]) -> None:
    data["metadata"]["promptdrift"]["checks"][0]["passed"] = False


def reformat(data: dict[str, Any]) -> None:
    """Equal content, other formatting: JSON bodies indented by 4, YAML dumped in another style (below)."""
    for item in data["interactions"]:
        item["request"]["body"] = json.dumps(json.loads(item["request"]["body"]), indent=4)
        body = item["response"]["body"]
        body["string"] = json.dumps(json.loads(body["string"]), indent=4, sort_keys=True)


EDITS = {"answer": edit_answer, "request": edit_request, "metadata": edit_metadata}


@pytest.fixture
def recorded(pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    return pytester.path / LATE


def test_a_fresh_recording_carries_a_digest_that_matches(pytester: pytest.Pytester, recorded: Path) -> None:
    loaded = cassettes.load(recorded)
    assert loaded.meta["digest"].startswith("sha256:") and loaded.integrity == cassettes.INTACT
    result = pytester.runpytest("--prompt-strict-cassettes")
    result.assert_outcomes(passed=2)
    assert "EDITED" not in result.stdout.str() and "no digest" not in result.stdout.str()


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_an_edit_is_named_in_the_terminal_and_the_reports(pytester: pytest.Pytester, recorded: Path, kind: str) -> None:
    edit(recorded, EDITS[kind])
    assert cassettes.load(recorded).integrity == cassettes.EDITED
    result = pytester.runpytest("--prompt-report=r.json", "--prompt-report=r.md", "--prompt-report=r.html")
    # An edited answer or metadata replays (and is named); an edited request no longer matches: drift, and named.
    result.assert_outcomes(**({"failed": 1, "passed": 1} if kind == "request" else {"passed": 2}))
    result.stdout.fnmatch_lines([EDITED_LINE])
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["cassettes"] == {"edited": [LATE], "no_digest": 0}
    assert f"- `{LATE}` (`suites/support.yaml::late`): edited by hand" in (pytester.path / "r.md").read_text()
    assert f"<li><code>{LATE}</code>: edited by hand" in (pytester.path / "r.html").read_text()


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_strict_cassettes_fail_an_edit_with_the_command_that_re_records_it(
    pytester: pytest.Pytester, recorded: Path, kind: str
) -> None:
    edit(recorded, EDITS[kind])
    result = pytester.runpytest("--prompt-strict-cassettes")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            f"*{LATE}: edited by hand since it was recorded*"
            "Re-record it: pytest suites/support.yaml::late --prompt-record=all"
        ]
    )


def test_the_ini_twin_and_re_recording_writes_a_fresh_digest(
    pytester: pytest.Pytester, recorded: Path, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(recorded, edit_answer)
    pytester.makeini("[pytest]\npromptdrift_strict_cassettes = true\n")
    pytester.runpytest().assert_outcomes(failed=1, passed=1)
    restarted = DemoServer(demo.script).start()
    monkeypatch.setenv("OPENAI_BASE_URL", restarted.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-rerecord0123456789abcdef")
    try:
        pytester.runpytest("suites/support.yaml::late", "--prompt-record=all").assert_outcomes(passed=1)
    finally:
        restarted.stop()
    assert cassettes.load(recorded).integrity == cassettes.INTACT
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_reformatted_but_equal_cassette_is_not_flagged(pytester: pytest.Pytester, recorded: Path) -> None:
    before = recorded.read_text()
    data = yaml.safe_load(before)
    reformat(data)
    recorded.write_text(yaml.safe_dump(data, sort_keys=True, default_flow_style=False, indent=4, width=60))
    assert recorded.read_text() != before
    assert cassettes.load(recorded).integrity == cassettes.INTACT
    result = pytester.runpytest("--prompt-strict-cassettes")
    result.assert_outcomes(passed=2)
    assert "EDITED" not in result.stdout.str()


def test_cassettes_without_a_digest_are_said_once_and_fail_only_in_strict_mode(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    for path in (pytester.path / "cassettes/support").glob("*.yaml"):
        edit(path, lambda data: data["metadata"]["promptdrift"].pop("digest"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    lines = [line for line in result.stdout.lines if "no digest" in line]
    assert lines == ["2 cassette(s) have no digest (written before promptdrift kept one); re-recording adds it"]
    # Strict mode: an edited answer whose digest: line was deleted is not let through.
    edit(recorded, edit_answer)
    strict = pytester.runpytest("--prompt-strict-cassettes")
    strict.assert_outcomes(failed=2)
    strict.stdout.fnmatch_lines(
        [
            f"*{LATE}: it has no digest, so an edit by hand cannot be told apart*"
            "Re-record it: pytest suites/support.yaml::late --prompt-record=all"
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", [*sorted(EDITS), "reformatted"])
def test_compare_names_edited_cassettes(
    pytester: pytest.Pytester, recorded: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pytester.path

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "recorded")
    edit(recorded, EDITS.get(kind, reformat))
    capsys.readouterr()
    cli(["compare", "--base", "main", "--rootdir", str(root), "--report", str(root / "cmp.json")])
    out = capsys.readouterr().out
    edited = json.loads((root / "cmp.json").read_text())["cassettes"]["edited"]
    if kind == "reformatted":
        assert "EDITED" not in out and edited == []
    else:
        assert f"EDITED     {LATE}: edited by hand since it was recorded" in out and edited == [LATE]
