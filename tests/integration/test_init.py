"""promptdrift init in someone else's repository: green offline at once, never overwrites, idempotent."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptdrift.cli.main import main

PYPROJECT = '[project]\nname = "shop"  # my shop\nversion = "1.0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'


def test_init_sets_up_a_repository_that_replays_green_offline(
    pytester: pytest.Pytester, offline, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pytester.path
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "tests").mkdir()
    (root / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    assert main(["init", str(root)]) == 0
    out = capsys.readouterr().out
    assert "wrote suites/support_reply.yaml" in out and "added the promptdrift settings to pyproject.toml" in out
    assert "pytest suites --prompt-record=new" in out and "--prompt-model" in out
    text = (root / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT.split("\n\n")[0])  # the user's lines, comment included, as they were
    assert 'testpaths = ["tests", "suites"]' in text and "[tool.promptdrift]" in text
    assert (root / "suites" / "support_reply.yaml").read_text().startswith("# yaml-language-server: $schema=")
    pytester.runpytest("--prompt-strict-cassettes").assert_outcomes(passed=2)  # green offline, no key
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".pytest_cache" not in p.parts}
    assert main(["init", str(root)]) == 0
    assert "nothing to do: promptdrift is set up here already" in capsys.readouterr().out
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".pytest_cache" not in p.parts}
    assert after == before


def test_init_never_overwrites_a_file_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "suites").mkdir()
    mine = tmp_path / "suites" / "support_reply.yaml"
    mine.write_text("suite: mine\n")
    (tmp_path / ".gitignore").write_text("node_modules")
    assert main(["init", str(tmp_path)]) == 0
    assert mine.read_text() == "suite: mine\n"
    assert "left as they were: suites/support_reply.yaml" in capsys.readouterr().out
    assert (tmp_path / ".gitignore").read_text().startswith("node_modules\n# promptdrift")
    assert (tmp_path / "pyproject.toml").read_text().startswith("[tool.promptdrift]")  # none before: written
    assert main(["init", str(tmp_path / "nowhere")]) == 2


@pytest.mark.slow
def test_the_workflow_init_writes_is_actionlint_clean(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    binary = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert binary, "actionlint is missing: pip install -e '.[dev]'"
    done = subprocess.run(
        [binary, "-no-color", ".github/workflows/promptdrift.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Through the action: the copy init writes is the repository's own action.yml.
    assert "uses: ./.github/actions/promptdrift" in (tmp_path / ".github/workflows/promptdrift.yml").read_text()
    repo = Path(__file__).resolve().parents[2]
    copy = (tmp_path / ".github/actions/promptdrift/action.yml").read_text()
    assert copy == (repo / "action.yml").read_text(), "plugins/promptdrift/cli/templates/action.yml: copy action.yml"
