"""The promptdrift console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from promptdrift import __version__
from promptdrift.cli.main import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"promptdrift {__version__}"


def test_validate_reports_good_and_bad_suites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites/good.yaml").write_text("suite: good\nprompt: {user: hi}\ncases: [{id: a}]\n")
    (tmp_path / "suites/bad.yaml").write_text("suite: bad\nprompt: {user: hi}\ncases: [{id: a, expect: [{nope: 1}]}]\n")
    (tmp_path / "suites/data.yaml").write_text("not: a suite\n")
    (tmp_path / "suites/gen.yaml").write_text(
        "suite: gen\nprompt: {user: hi}\ngenerate: {vars: {n: {booleans: true}}}\n"
    )
    code = main(["validate", str(tmp_path / "suites"), "--rootdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "ok   suites/good.yaml: suite 'good', 1 case(s)" in out
    assert "FAIL suites/bad.yaml:3: unknown check 'nope'" in out
    assert "ok   suites/gen.yaml: suite 'gen', 0 case(s), generated cases (up to 25)" in out
    assert "2 valid, 1 invalid" in out


@pytest.mark.slow
def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("promptdrift")
    result = subprocess.run(
        [str(script), "validate", "suites"], capture_output=True, text=True, check=False, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 invalid" in result.stdout
