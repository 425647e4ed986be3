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
    assert "ok   suites/good.yaml: suite 'good', 1 case(s) rendered" in out
    assert "FAIL suites/bad.yaml:3:27: unknown check 'nope'" in out
    assert "ok   suites/gen.yaml: suite 'gen', 0 case(s) rendered, generated cases (up to 25)" in out
    assert "2 valid, 1 invalid" in out


@pytest.mark.slow
def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("promptdrift")
    result = subprocess.run(
        [str(script), "validate", "suites"], capture_output=True, text=True, check=False, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 invalid" in result.stdout


def test_validate_names_what_a_run_would_trip_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing path, a misspelt suite: key, an unknown key, a misspelt check, an undefined variable."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "misspelt.yaml").write_text("suit: a\nprompt: {user: hi}\ncases: [{id: a}]\n")
    (suites / "keys.yaml").write_text(
        "suite: keys\nmodel: m\nprompt: {user: '{{ message }}'}\ncases:\n  - {id: a, vars: {message: hi}}\nexpekt: []\n"
    )
    (suites / "check.yaml").write_text(
        "suite: check\nmodel: m\nprompt: {user: hi}\ncases:\n  - id: a\n    expect:\n      - contians: x\n"
    )
    (suites / "variable.yaml").write_text(
        "suite: variable\nmodel: m\nprompt: {user: '{{ mesage }}'}\ncases:\n  - {id: a, vars: {message: hi}}\n"
    )
    code = main(["validate", str(suites), str(tmp_path / "nowhere"), "--rootdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAIL {tmp_path / 'nowhere'}: no such file or folder" in out
    assert "FAIL suites/misspelt.yaml:1:1: unknown key 'suit'; did you mean 'suite'?" in out
    assert "FAIL suites/misspelt.yaml:1:1: missing key: 'suite'" in out
    assert "FAIL suites/keys.yaml:6:1: unknown key 'expekt'; did you mean 'expect'?" in out
    assert "FAIL suites/check.yaml:7:9: unknown check 'contians'; did you mean 'contains'?" in out
    assert "FAIL suites/variable.yaml: case 'a': template variable missing: 'mesage' is undefined." in out
    assert "0 valid, 5 invalid" in out
    assert main(["validate", str(tmp_path / "empty-folder-that-is-missing")]) == 1


def test_a_misspelt_suite_key_is_reported_at_collection(pytester: pytest.Pytester) -> None:
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "a.yaml").write_text("suit: a\nprompt: {user: hi}\ncases: [{id: a}]\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/a.yaml:1:1: unknown key 'suit'; did you mean 'suite'?*"])


def test_scan_of_a_missing_path_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "nowhere"]) == 2
    assert "promptdrift scan: no such file or folder: nowhere" in capsys.readouterr().err


def test_demo_server_failures_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from promptdrift.testing.demo import DemoServer

    assert main(["demo-server", "--script", "nowhere.yaml"]) == 2
    assert "promptdrift demo-server: no script at nowhere.yaml: give a YAML script" in capsys.readouterr().err
    with DemoServer() as taken:
        port = int(taken.base_url.rsplit(":", 1)[1].split("/")[0])
        assert main(["demo-server", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"promptdrift demo-server: cannot listen on port {port} (" in err and "choose another with --port N" in err


@pytest.mark.slow
def test_demo_server_without_its_extra_names_the_extra() -> None:
    code = "import sys; sys.modules['pytest_httpserver'] = None\nfrom promptdrift.cli.main import main\nmain(['demo-server'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert "promptdrift demo-server needs the demo extra" in done.stderr
    assert "pip install 'promptdrift[demo]'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_sdist_and_wheel_build_pass_twine_and_ship_what_a_user_needs(tmp_path: Path) -> None:
    import tarfile
    import zipfile

    repo = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "build", "-q", "--outdir", str(tmp_path), str(repo)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,), (sdist,) = tmp_path.glob("*.whl"), tmp_path.glob("*.tar.gz")
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert "promptdrift/testing/example-script.yaml" in names and "promptdrift/py.typed" in names
    assert {"promptdrift/cli/templates/suite.yaml", "promptdrift/cli/templates/cassette.yaml"} <= set(names)
    assert not [n for n in names if n.startswith("tests/") or "/test_" in n]
    assert f"Version: {__version__}" in metadata and "Classifier: Framework :: Pytest" in metadata
    assert "Provides-Extra: all" in metadata
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(m.endswith("/LICENSE") for m in members)
    assert not [m for m in members if "/tests/" in m]
