"""Sharded runs: slices on separate processes (stand-ins for CI runners), merged into one verdict.

The example suites and a generated suite of 400 case items (200 cases x 2
variants, some sampled, with a gate) run as 4 shard processes and as one
process: the merged report, gates, decision matrix and exit status equal the
one-process ones. While recording in shards no request is made twice, gates
never record, and they are settled by ``promptdrift merge`` from every case's record.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from promptdrift.cli.main import main as cli
from promptdrift.testing.demo import DemoServer, Script
from promptdrift.verdict.ledger import RecordStore, has_pending_gates
from promptdrift.verdict.shards import Shard, merged_exitstatus
from tests.helpers import write

REPO = Path(__file__).resolve().parents[2]
SHARDS = 4
CASES = 200

SCRIPT = {"rules": [{"when": {"contains": "bad"}, "reply": "no"}], "default": "ok"}


def big_suite(pytester: pytest.Pytester) -> None:
    lines = []
    for i in range(CASES):
        case: dict[str, Any] = {"id": f"c{i:03d}", "vars": {"n": i, "word": "bad" if i % 20 == 7 else "good"}}
        if i % 25 == 0:
            case["samples"] = 2
        lines.append(json.dumps(case))
    write(pytester, "fixtures/big.jsonl", "\n".join(lines) + "\n")
    write(
        pytester,
        "suites/big.yaml",
        """
        suite: big
        model: gpt-4o-mini
        prompt: {system: "Reply ok.", user: "Case {{ n }}: {{ word }}"}
        expect: [{contains: ok}]
        cases: fixtures/big.jsonl
        gate: {pass_rate: {min: 0.9}}
        variants:
          terse: {}
          polite: {prompt: {system: "Reply ok, politely."}}
        """,
    )


def with_examples(pytester: pytest.Pytester) -> None:
    for name in ("suites", "fixtures", "cassettes"):
        shutil.copytree(REPO / name, pytester.path / name, dirs_exist_ok=True)
    text = (REPO / "pyproject.toml").read_text()  # the prices the decision matrix uses
    start = text.index("[tool.promptdrift.prices]")
    (pytester.path / "pyproject.toml").write_text(text[start : text.index("\n\n", start)] + "\n")


def run_shards(pytester: pytest.Pytester, *args: str) -> list[int]:
    """Each shard in a process of its own, as each CI runner would."""
    codes = []
    for index in range(1, SHARDS + 1):
        result = pytester.runpytest_subprocess(*args, "--prompt-records-dir=rec", f"--prompt-shard={index}/{SHARDS}")
        codes.append(result.ret)
    return codes


def merge(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli(["merge", str(pytester.path / "rec"), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def without_timings(report: dict[str, Any]) -> dict[str, Any]:
    for case in report["cases"]:
        case["latency_ms"] = None
    return report


@pytest.fixture
def recorded(pytester: pytest.Pytester, demo: DemoServer) -> DemoServer:
    with_examples(pytester)
    big_suite(pytester)
    demo.script = Script.from_data(SCRIPT)
    pytester.runpytest("suites/big.yaml", "--prompt-record=new").assert_outcomes(passed=380 + 2, failed=20)
    return demo


@pytest.mark.slow
def test_four_shards_merge_into_the_one_process_verdict(
    pytester: pytest.Pytester, recorded: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded.stop()
    one = pytester.runpytest_subprocess("--prompt-report=one.json")
    codes = run_shards(pytester)
    code, out = merge(pytester, capsys, "--report", str(pytester.path / "merged.json"))
    assert code == one.ret == 1  # the 20 bad cases fail, in one process and merged
    assert 1 in codes
    single = without_timings(json.loads((pytester.path / "one.json").read_text()))
    merged = without_timings(json.loads((pytester.path / "merged.json").read_text()))
    assert merged == single  # every case, gate, decision and comparison
    assert len(merged["cases"]) == 2 * CASES + 39 and len(merged["gates"]) >= 2
    assert "promptdrift (none): 439 replayed, 4 shards, " in out
    assert "decision matrix: support-tactics" in out and "decision matrix: big" in out
    shards = [json.loads(p.read_text()) for p in sorted((pytester.path / "rec").glob("*/run.json"))]
    assert [s["index"] for s in shards] == [1, 2, 3, 4]
    ids = [nodeid for s in shards for nodeid in s["nodeids"]]
    assert len(ids) == len(set(ids))  # each test ran in exactly one shard


@pytest.mark.slow
def test_sharded_recording_requests_nothing_twice_and_merge_settles_the_gates(
    pytester: pytest.Pytester, demo: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    big_suite(pytester)
    demo.script = Script.from_data(SCRIPT)
    codes = run_shards(pytester, "--prompt-record=new")
    assert 1 in codes  # the shards that drew bad cases fail
    bodies = Counter(json.dumps(r["json"], sort_keys=True) for r in demo.requests)
    assert len(demo.requests) == 2 * (CASES + CASES // 25)  # one request per case and variant, two per sampled case
    assert len(bodies) == 2 * CASES and max(bodies.values()) == 2  # only a sampled case asks its request twice
    assert sum(count == 2 for count in bodies.values()) == 2 * (CASES // 25)
    assert len(list((pytester.path / "cassettes/big").rglob("*.yaml"))) == 2 * CASES
    code, out = merge(pytester, capsys, "--report", str(pytester.path / "merged.json"))
    assert code == 1
    gates = json.loads((pytester.path / "merged.json").read_text())["gates"]
    assert {(g["gate"], g["variant"], g["passed"], g.get("settled")) for g in gates} == {
        ("pass_rate", "terse", True, True),
        ("pass_rate", "polite", True, True),
    }
    assert "big[terse]::gate[pass_rate] passed (from every case's record)" in out
    # A re-run of one shard records only what is missing.
    cassettes = sorted((pytester.path / "cassettes/big").rglob("*.yaml"))
    shard_two = json.loads((pytester.path / "rec/shard-2-of-4/run.json").read_text())["nodeids"]
    mine = [p for p in cassettes if int(p.stem[1:]) % 25 and any(f"{p.stem}[{p.parent.name}]" in n for n in shard_two)][
        :3
    ]  # three unsampled cases of shard 2: one request each
    for path in mine:
        path.unlink()
    before = len(demo.requests)
    pytester.runpytest_subprocess("--prompt-record=new", "--prompt-records-dir=rec", "--prompt-shard=2/4")
    assert len(demo.requests) - before == 3


@pytest.mark.slow
def test_gates_never_record_under_xdist(pytester: pytest.Pytester, demo: DemoServer) -> None:
    big_suite(pytester)
    demo.script = Script.from_data(SCRIPT)
    result = pytester.runpytest("suites/big.yaml", "--prompt-record=new", "-n", "2")
    bodies = Counter(json.dumps(r["json"], sort_keys=True) for r in demo.requests)
    assert len(demo.requests) == 2 * (CASES + CASES // 25) and max(bodies.values()) <= 2
    result.stdout.fnmatch_lines(["*big?terse?::gate?pass_rate? passed (from every case's record)*"])
    assert result.ret == 1  # the bad cases, not the gates


@pytest.fixture
def shards(pytester: pytest.Pytester, recorded: DemoServer) -> Path:
    recorded.stop()
    run_shards(pytester, "suites/big.yaml")
    return pytester.path / "rec"


def test_a_missing_shard_is_an_error(
    pytester: pytest.Pytester, shards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(shards / "shard-3-of-4")
    code, out = merge(pytester, capsys)
    assert code == 2 and "shard 3 of 4 missing: no records from it" in out


def test_a_shard_from_another_commit_is_an_error(
    pytester: pytest.Pytester, shards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = shards / "shard-2-of-4" / "run.json"
    data = json.loads(identity.read_text())
    data["commit"] = "0123456789abcdef"
    identity.write_text(json.dumps(data))
    code, out = merge(pytester, capsys)
    assert code == 2 and "shard 2 of 4 ran on commit 0123456789abcdef" in out


def test_a_corrupt_records_file_is_an_error_naming_it(
    pytester: pytest.Pytester, shards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = shards / "shard-4-of-4" / "main.jsonl"
    damaged.write_text(damaged.read_text()[:-40])
    code, out = merge(pytester, capsys)
    assert code == 2
    assert "shard 4 of 4 (" in out and "its records file main.jsonl was cut short or changed" in out
    # A run.json written before promptdrift kept checksums: the damage is still found, line by line.
    identity = shards / "shard-4-of-4" / "run.json"
    data = json.loads(identity.read_text())
    del data["records"]
    identity.write_text(json.dumps(data))
    code, out = merge(pytester, capsys)
    assert code == 2 and f"{damaged}:" in out and "is not a promptdrift record; the file is damaged" in out


def test_a_shard_whose_records_file_is_gone_is_an_error_naming_it(
    pytester: pytest.Pytester, shards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (shards / "shard-2-of-4" / "stray.jsonl").write_text("")
    code, out = merge(pytester, capsys)
    assert code == 2 and "shard 2 of 4 (" in out and "records file(s) stray.jsonl were not written by" in out
    (shards / "shard-1-of-4" / "main.jsonl").unlink()  # its folder and run.json stay
    code, out = merge(pytester, capsys)
    assert code == 2
    assert "shard 1 of 4 (" in out and "its records file main.jsonl is missing (its run.json lists it)" in out


@pytest.mark.parametrize(
    ("statuses", "gates_failed", "expected"),
    [
        ([0, 0], False, 0),
        ([0, 1], False, 1),
        ([0, 0], True, 1),
        ([5, 5], False, 5),
        ([5, 0], False, 0),
        ([0, 2], False, 2),
    ],
)
def test_the_merged_exit_status_is_one_process_s(statuses: list[int], gates_failed: bool, expected: int) -> None:
    shards = [Shard(i + 1, len(statuses), "c", "none", exitstatus=s) for i, s in enumerate(statuses)]
    assert merged_exitstatus(shards, gates_failed) == expected


def test_a_bad_shard_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--prompt-shard=5/4")
    result.stderr.fnmatch_lines(["*--prompt-shard takes I/N with 1 <= I <= N (such as 2/4), got '5/4'*"])


@pytest.mark.slow
def test_pytest_split_chooses_the_slices_and_promptdrift_names_them(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], offline: None
) -> None:
    with_examples(pytester)
    one = pytester.runpytest_subprocess("suites", "--prompt-report=one.json")
    for group in (1, 2):
        pytester.runpytest_subprocess("suites", "--splits", "2", "--group", str(group), "--prompt-records-dir=rec")
    identities = [json.loads(p.read_text()) for p in sorted((pytester.path / "rec").glob("*/run.json"))]
    assert [(s["index"], s["count"]) for s in identities] == [(1, 2), (2, 2)]
    assert identities[0]["nodeids"] and not set(identities[0]["nodeids"]) & set(identities[1]["nodeids"])
    code, _ = merge(pytester, capsys, "--report", str(pytester.path / "merged.json"))
    assert code == one.ret == 0
    merged = without_timings(json.loads((pytester.path / "merged.json").read_text()))
    assert merged == without_timings(json.loads((pytester.path / "one.json").read_text()))


def test_pending_gates_are_found_line_by_line(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "main")
    store.add("case", {"nodeid": "suites/a.yaml::c1", "answer": 'it says "gate-pending" in its text'})
    assert not has_pending_gates(tmp_path)  # only a record of that kind counts, not the words
    RecordStore(tmp_path, "gw1").add("gate-pending", {"suite": "a", "gate": "pass_rate"})
    assert has_pending_gates(tmp_path)


def test_each_record_is_on_disk_as_soon_as_it_is_added(tmp_path: Path) -> None:
    # The store keeps its file open for the whole run; a process killed mid-run must still leave every record
    # it added readable (the merge and the main process read the files while, or after, it writes them).
    store = RecordStore(tmp_path, "main")
    for number in (1, 2):
        store.add("case", {"nodeid": f"suites/a.yaml::c{number}"})
        assert len((tmp_path / "main.jsonl").read_text(encoding="utf-8").splitlines()) == number
    store.close()
    store.add("case", {"nodeid": "suites/a.yaml::c3"})  # after close: opened again, appending
    store.close()
    lines = (tmp_path / "main.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["nodeid"] for line in lines] == [f"suites/a.yaml::c{n}" for n in (1, 2, 3)]
