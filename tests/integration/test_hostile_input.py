"""Hostile input, second round: alias bombs, colliding cassettes, symlinks out of the cassette root,
temporary files left by a killed recorder, partial shard records."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptdrift.cli.main import main
from promptdrift.core.errors import SuiteError
from promptdrift.testing.demo import DemoServer
from promptdrift.text import yamlio
from tests.helpers import write


def bomb(depth: int, width: int, indent: str = "") -> str:
    """Nested aliases: each level a list of ``width`` aliases of the level before."""
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 12), width=st.integers(1, 12))
def test_aliases_are_bounded_whatever_their_depth_and_width(depth: int, width: int) -> None:
    text = bomb(depth, width)
    expanded = sum(width**i for i in range(1, depth + 1))  # the values the nested lists hold, once written out
    for load in (yamlio.loads, yamlio.loads_data):
        started = time.perf_counter()
        if expanded > yamlio.MAX_ALIASED + 2 * width * depth:
            with pytest.raises(SuiteError, match=r"aliases \(\*name\) expand to .*an alias bomb"):
                load(text, path="b.yaml")
        elif expanded < yamlio.MAX_ALIASED // 2:
            assert load(text, path="b.yaml")[f"l{depth - 1}"]
        assert time.perf_counter() - started < 1.0


BOMB_SUITE = """
suite: bomb
model: gpt-4o-mini
prompt: {user: "{{ message }}"}
cases:
  - id: one
    vars:
      message: hi
%s
"""


def test_an_alias_bomb_fails_fast_in_a_suite_a_cassette_and_validate(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    write(pytester, "suites/bomb.yaml", BOMB_SUITE % bomb(9, 10, " " * 6))
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["validate", str(pytester.path / "suites"), "--rootdir", str(pytester.path)]) == 1
    assert "an alias bomb?" in capsys.readouterr().out
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/bomb.yaml: invalid YAML: its aliases (*name) expand to *an alias bomb?*"])
    write(pytester, "suites/bomb.yaml", BOMB_SUITE % "")
    write(pytester, "cassettes/bomb/one.yaml", "version: 1\ninteractions: []\n" + bomb(9, 10))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cassettes/bomb/one.yaml: cassette is not valid YAML (*an alias bomb?*"])
    assert time.perf_counter() - started < 5
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 300  # MB


SUITE = """
suite: %s
model: gpt-4o-mini
prompt: {user: "{{ message }}"}
cases:
%s
"""


def test_two_suite_files_with_one_id_are_an_error_naming_both(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    write(pytester, "suites/a.yaml", SUITE % ("shared", "  - {id: one, vars: {message: a}}"))
    write(pytester, "suites/b.yaml", SUITE % ("shared", "  - {id: one, vars: {message: b}}"))
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["suites/a.yaml::one", "suites/b.yaml::suite"])
    result = pytester.runpytest("suites/b.yaml")
    result.assert_outcomes(failed=1)  # alone, b is not a clash
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)  # a's case has no cassette; b is refused
    result.stdout.fnmatch_lines(
        [
            "*suites/b.yaml:1: suite id 'shared' is already the id of suites/a.yaml: both would record into "
            "cassettes/shared/ and replay each other's answers. Give each suite its own id"
        ]
    )
    assert main(["validate", str(pytester.path / "suites"), "--rootdir", str(pytester.path)]) == 1
    assert "suite id 'shared' is already the id of suites/a.yaml" in capsys.readouterr().out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=90),
        min_size=2,
        max_size=4,
        unique=True,
    )
)
def test_distinct_ids_never_share_a_cassette_file(ids: list[str]) -> None:
    from promptdrift.cassettes.naming import safe_name

    made = [safe_name(i) for i in ids]
    assert len(set(made)) == len(made), list(zip(ids, made, strict=True))
    # An id that looks like another's made-safe name gets a file of its own.
    assert len({safe_name(i) for i in [ids[0], safe_name(ids[0])]}) == 2 or safe_name(ids[0]) == ids[0]


def test_case_ids_that_would_share_a_file_are_an_error(pytester: pytest.Pytester) -> None:
    from promptdrift.cassettes.naming import safe_name

    assert safe_name("a*b") == "a_b-15eb0a79" != safe_name("a_b-15eb0a79")
    write(
        pytester,
        "suites/a.yaml",
        SUITE % ("s", "  - {id: 'a*b', vars: {message: x}}\n  - {id: a_b-15eb0a79, vars: {message: y}}"),
    )
    pytester.runpytest("--collect-only", "-q").stdout.fnmatch_lines(
        ["suites/a.yaml::a*b", "suites/a.yaml::a_b-15eb0a79"]
    )
    write(
        pytester,
        "suites/a.yaml",
        SUITE % ("s", "  - {id: Late, vars: {message: x}}\n  - {id: late, vars: {message: y}}"),
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*suites/a.yaml:6: case ids 'Late' (line 5) and 'late' would share one cassette file (late.yaml on a "
            "case-insensitive disk): rename one"
        ]
    )


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow
def test_nothing_is_written_or_swept_through_a_link_out_of_the_cassette_folder(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    pid = _dead_pid()
    mine = outside / f".promptdrift-late.yaml.{pid}-0123abcd.tmp"
    theirs = outside / f".notes.{pid}-0123abcd.tmp"
    mine.write_text("a user's file that only looks like ours")
    theirs.write_text("a user's file")
    (pytester.path / "cassettes").mkdir()
    (pytester.path / "cassettes" / "support").symlink_to(outside, target_is_directory=True)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*cassettes/support/late.yaml: leads outside the cassette folder * (to *outside*, through a symbolic link): "
            "promptdrift does not write there. Replace the link with a folder, or point --prompt-cassette-dir at that "
            "place itself"
        ]
    )
    assert sorted(p.name for p in outside.iterdir()) == sorted([mine.name, theirs.name])


@pytest.mark.slow
def test_a_recording_run_sweeps_what_a_killed_recorder_left_and_nothing_else(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    folder = pytester.path / "cassettes" / "support"
    pid = _dead_pid()
    left = folder / f".promptdrift-late.yaml.{pid}-0123abcd.tmp"
    alive = folder / f".promptdrift-late.yaml.{os.getpid()}-0123abcd.tmp"  # a recorder still running
    user = folder / f".notes.{pid}-0123abcd.tmp"
    for path in (left, alive, user):
        path.write_text("partial")
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)  # records nothing, sweeps all the same
    assert not left.exists() and alive.exists() and user.exists()


def test_an_endless_stream_fails_within_the_calls_deadline(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    """--prompt-timeout bounds each read, and a byte every 50 ms never trips it: the deadline bounds the call."""
    demo.fault_next("dribble", seconds=8)
    started = time.perf_counter()
    result = pytester.runpytest(
        "--prompt-record=new", "-k", "late", "--prompt-timeout=2", "--prompt-deadline=1", "--prompt-max-retries=0"
    )
    assert time.perf_counter() - started < 5
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*recording cassettes/support/late.yaml failed once: the answer was not complete after 1 s "
            "(--prompt-deadline). Nothing was recorded for this call*"
        ]
    )
    assert not (pytester.path / "cassettes/support/late.yaml").exists()
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)  # the next run records it
