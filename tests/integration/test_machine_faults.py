"""Faults of the machine and the process: a full disk, read-only folders, odd cassette paths, two recorders
at once, huge answers, blocked templates, damaged records. One clear line each, no paid answer thrown away."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptdrift.cassettes.lock import FolderLock
from promptdrift.cli.main import main
from promptdrift.core.errors import ConfigError
from promptdrift.testing.demo import DemoServer
from tests.helpers import many_cases, script, write


def _mount(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def _read_only(pytester: pytest.Pytester, folder: Path, *args: str) -> pytest.RunResult:
    """Run pytest with ``folder`` a read-only file system."""
    _mount(folder, "size=1m,ro")
    try:
        return pytester.runpytest(*args)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(pytester: pytest.Pytester) -> Iterator[Path]:
    """A 200 KB file system as the cassette folder: full after a few dozen cassettes."""
    folder = pytester.path / "cassettes"
    _mount(folder, "size=200k")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The system's temporary folder of this test (where answers that could not be written wait)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / "promptdrift-spool"


@pytest.mark.slow
def test_a_full_disk_stops_the_calls_and_keeps_every_paid_answer(
    pytester: pytest.Pytester, demo: DemoServer, small_disk: Path, spool: Path
) -> None:
    many_cases(pytester, 120, gate=False)
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=4")
    output = result.stdout.str()
    assert "Traceback" not in output and "OSError" not in output
    written = sorted(p.name for p in (small_disk / "many").glob("*.yaml"))
    spooled = sorted(p.name for p in spool.rglob("*.yaml"))
    outcomes = result.parseoutcomes()
    calls = len(demo.requests)
    # Every answer paid for is on disk or in the spool. Past the first failed write no request leaves: the
    # only answers that arrive after it are of cases already under way (the pool has 2 x 4 threads).
    assert calls == len(written) + len(spooled)
    assert 1 <= len(spooled) <= 8
    assert outcomes["failed"] == len(spooled) and outcomes["skipped"] == 120 - calls
    result.stdout.fnmatch_lines(
        [
            "*cassettes/many/c*.yaml: could not be written (No space left on device). This run calls the model "
            "no more (each further answer would be paid for and lost). Its answers are kept in *promptdrift-spool*: "
            "once the folder can be written, re-run with pytest suites/many.yaml::c* --prompt-record=new and they "
            "are put in place without calling the model again"
        ]
    )
    assert outcomes["passed"] == len(written)
    # Room again: the same folder on the big disk, with what the small one held.
    shutil.copytree(small_disk, pytester.path / "held")
    subprocess.run(["umount", "-l", str(small_disk)], check=True)
    shutil.copytree(pytester.path / "held", small_disk, dirs_exist_ok=True)
    again = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=4")
    again.assert_outcomes(passed=120)
    assert len(demo.requests) == 120  # over both runs, each call was paid for once
    assert not list(spool.rglob("*.yaml"))  # each spooled answer was put in place


@pytest.mark.slow
def test_a_read_only_cassette_folder_fails_before_any_call(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 3, gate=False)
    result = _read_only(pytester, pytester.path / "cassettes", "--prompt-record=new")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*promptdrift: cannot write in the cassette folder *cassettes (Read-only file system): make it writable, "
            "or record into another one with --prompt-cassette-dir"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert demo.requests == []


@pytest.mark.slow
def test_a_read_only_records_folder_is_one_clear_line(pytester: pytest.Pytester, support_suite) -> None:
    result = _read_only(pytester, pytester.path / "ro", "--prompt-records-dir", "ro/records")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*promptdrift: --prompt-records-dir ro/records: cannot write the run's records in *ro/records/shard-1-of-1 "
            "(Read-only file system); give a folder this run can write"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("odd", ["folder", "device"])
def test_a_cassette_that_is_a_folder_or_a_device_is_refused(
    pytester: pytest.Pytester, support_suite, offline, odd: str
) -> None:
    path = pytester.path / "cassettes" / "support" / "late.yaml"
    path.parent.mkdir(parents=True)
    if odd == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    started = time.perf_counter()
    result = pytester.runpytest("-k", "late")
    assert time.perf_counter() - started < 10
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*cassettes/support/late.yaml: not a regular file (a folder, a device or a broken link). Re-record it: "
            "pytest suites/support.yaml::late --prompt-record=all"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_huge_answer_stops_at_the_limit(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    demo.gzip = True  # about 5 KB on the wire, 5 MB once decoded
    script(demo, default="a" * 5_000_000)
    result = pytester.runpytest("--prompt-record=new", "-k", "invoice", "--prompt-max-mb=1")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["*recording cassettes/support/invoice.yaml failed once: the answer is larger than 1 MB (--prompt-max-mb)*"]
    )


@pytest.mark.slow
def test_two_recorders_at_once_pay_for_each_call_once(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 20, gate=False)
    demo.latency = 0.1
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--prompt-record=new"]
    env = {**_environ(), "OPENAI_BASE_URL": demo.base_url}

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            command, cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    runs = [start()]
    lock = pytester.path / "cassettes" / ".promptdrift.lock"
    for _ in range(600):  # until the first holds the lock (it writes its name in the lock file)
        if lock.exists() and lock.read_text():
            break
        time.sleep(0.05)
    runs.append(start())
    outputs = [proc.communicate(timeout=120) for proc in runs]
    assert [proc.returncode for proc in runs] == [0, 0], outputs
    assert len(demo.requests) == 20  # the second replayed what the first recorded
    assert "promptdrift: waiting for process " in outputs[1][1]
    assert "20 replayed" in outputs[1][0]


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


@pytest.mark.slow
def test_a_lock_left_by_a_killed_recorder_is_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from promptdrift.cassettes.lock import FolderLock; "
            "lock = FolderLock(Path(sys.argv[1])); lock.acquire('pytest --prompt-record=new', wait=1, say=print); "
            "print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    said: list[str] = []
    with pytest.raises(ConfigError, match=r"another run has been recording into .* \(process \d+ on .*: pytest"):
        FolderLock(tmp_path).acquire("second", wait=0.3, say=said.append)
    assert said and said[0].startswith("promptdrift: waiting for process ")
    holder.kill()  # SIGKILL: the lock file stays, the lock does not
    holder.wait()
    assert (tmp_path / ".promptdrift.lock").exists()
    lock = FolderLock(tmp_path)
    lock.acquire("third", wait=1, say=said.append)
    lock.release()


@pytest.mark.parametrize(
    "template",
    [
        "{% import 'x' as y %}{{ message }}",
        "{% include '/etc/passwd' %}",
        "{{ range(10**9) | list | length }}",
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{{ '{0.__class__}'.format_map({}) }}",
    ],
)
def test_blocked_templates_give_the_sandboxs_message(pytester: pytest.Pytester, offline, template: str) -> None:
    write(
        pytester,
        "suites/t.yaml",
        f"suite: t\nmodel: m\nprompt: {{user: {json.dumps(template)}}}\ncases:\n  - {{id: one, vars: {{message: hi}}}}\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/t.yaml::one*template *"])
    assert "Traceback" not in result.stdout.str() and "RecursionError" not in result.stdout.str()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            b'{"kind": "case", "suite": "s", "case": "c", "nodeid": "n", "status": "replayed", "passed": \xff}\n',
            "not UTF-8",
        ),
        (
            b'{"kind": "case", "suite": "s", "case": "c", "nodeid": "n", "status": "replayed", "passed": true, '
            b'"samples": "three"}\n',
            "samples is 'three'",
        ),
        (b'{"kind": "case", "suite": "s"}\n', "required positional argument"),
    ],
)
def test_merge_of_a_damaged_records_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: bytes, why: str
) -> None:
    folder = tmp_path / "recs" / "shard-1-of-1"
    folder.mkdir(parents=True)
    (folder / "main.jsonl").write_bytes(line)
    (folder / "run.json").write_text(json.dumps({"index": 1, "count": 1, "commit": "x", "record_mode": "none"}))
    assert main(["merge", str(tmp_path / "recs")]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'main.jsonl'}: line 1 is not a promptdrift record (" in err and why in err
    (folder / "run.json").write_text(json.dumps({"index": 1, "count": "1", "commit": "x", "record_mode": "none"}))
    assert main(["merge", str(tmp_path / "recs")]) == 2
    assert "not a shard identity (count must be a whole number, got '1')" in capsys.readouterr().err


def test_the_demo_server_answers_a_malformed_body_with_400(demo: DemoServer) -> None:
    import urllib.error
    import urllib.request

    for body in (b'{"model": "m", "messages": 5}', b"not json"):
        request = urllib.request.Request(
            demo.base_url + "/chat/completions", data=body, headers={"content-type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as answered:
            urllib.request.urlopen(request, timeout=5)
        assert answered.value.code == 400
        assert b"malformed request body" in answered.value.read()


def test_the_shards_of_one_run_share_the_folder_and_one_shard_records_once(tmp_path: Path) -> None:
    said: list[str] = []
    first, second = FolderLock(tmp_path, (1, 2)), FolderLock(tmp_path, (2, 2))
    first.acquire("pytest --prompt-shard=1/2", wait=0.3, say=said.append)
    second.acquire("pytest --prompt-shard=2/2", wait=0.3, say=said.append)  # disjoint cases: no wait
    assert said == []
    with pytest.raises(ConfigError, match=r"\(process \d+ on .*: pytest --prompt-shard=1/2\)"):
        FolderLock(tmp_path, (1, 2)).acquire("again", wait=0.3, say=said.append)
    with pytest.raises(ConfigError, match="another run has been recording"):
        FolderLock(tmp_path).acquire("everything", wait=0.3, say=said.append)
    first.release()
    second.release()
    everything = FolderLock(tmp_path)
    everything.acquire("everything", wait=0.3, say=said.append)
    everything.release()
