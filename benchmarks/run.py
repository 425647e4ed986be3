"""promptdrift's speed benchmark: one command, every target of the speed issue, with its ratio.

    python benchmarks/run.py                        # 5 runs of each workload; the median counts
    python benchmarks/run.py --runs 1 --scale 0.1   # a quick look at smaller workloads

It starts promptdrift's OpenAI-compatible demo server on 127.0.0.1 with an
injected latency, writes generated suites into temporary projects, and times
separate ``pytest`` processes (each reports its own peak RSS, VmHWM):

* recording 200 cases at 200 ms latency with ``--prompt-concurrency`` 16 and 4,
  against the ideal N·L/C, with and without ``PYTHONDONTWRITEBYTECODE=1``: the
  recording phase the terminal summary prints ("200 cases in 2.91 s": first
  case started to last case done) and the whole process (interpreter,
  imports, collection, the end of the run);
* replaying 1,000 cases (schema, contains and a tone limit) against plain
  pytest running the same three checks on the same answers from one JSON
  file (``baseline_test.py``); both are whole-process wall times;
* replaying 10,000 cases (whole process, both byte-code settings) and its peak
  RSS over plain pytest running the same checks on 10,000 answers;
* the same 1,000-case replay under ``pytest -n 2``: the verdicts must match;
* (``--only shards``) four shard processes recording at once, beside its
  floor: plain pytest making the same calls through the SDK, promptdrift
  disabled (``sdk_floor_test.py``); ``promptdrift merge``; a replay split over
  two shard processes;
* (``--only startup``) what an installed promptdrift adds to a run with no
  suite, replaying 200 cases, ``--collect-only`` of 10,000, both byte-code
  settings, each beside its floor: plain pytest (``-p no:promptdrift``)
  running as many trivial tests, and a bare interpreter importing ``openai``;
* (``--only batch``) recording 10,000 cases through one provider batch that
  completes at once, against replaying them: time and peak RSS.

Nothing here is asserted by the unit tests; the figures are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptdrift.testing.demo import DemoServer, Rule

HERE = Path(__file__).resolve().parent
SCHEMA = {
    "type": "object",
    "required": ["order", "reply"],
    "properties": {"order": {"type": "integer"}, "reply": {"type": "string"}},
    "additionalProperties": False,
}
PHASE = re.compile(r"(\d+) cases in ([\d.]+) s, up to (\d+) at a time")
PASSED = re.compile(r"(\d+) passed")
# The speed targets hold with and without byte-code caching (containers and CI images often forbid writing it).
BYTECODE: tuple[tuple[str, dict[str, str]], ...] = (
    ("bytecode", {}),
    ("PYTHONDONTWRITEBYTECODE=1", {"PYTHONDONTWRITEBYTECODE": "1"}),
)


def reply(body: Mapping[str, Any]) -> Rule:
    """The server's answer: JSON naming the order number at the end of the prompt."""
    number = int(str(body["messages"][-1]["content"]).rsplit(" ", 1)[-1])
    return Rule(reply={"json": {"order": number, "reply": f"Your order {number} ships today."}})


def answer(number: int) -> str:
    """The answer text the demo server gives for order ``number`` (as recorded in the cassettes)."""
    return json.dumps({"order": number, "reply": f"Your order {number} ships today."})


def write_project(root: Path, cases: int) -> None:
    """A project with one suite of ``cases`` generated cases and the schema its checks use."""
    (root / "suites").mkdir(parents=True, exist_ok=True)
    (root / "fixtures").mkdir(exist_ok=True)
    (root / "fixtures" / "reply.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    with open(root / "fixtures" / "cases.jsonl", "w", encoding="utf-8") as out:
        for i in range(cases):
            out.write(json.dumps({"id": f"c{i:05d}", "vars": {"n": i}}) + "\n")
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["suites"]\naddopts = "-p no:cacheprovider"\n', encoding="utf-8"
    )
    (root / "suites" / "bench.yaml").write_text(
        textwrap.dedent(
            """
            suite: bench
            model: gpt-4o-mini
            params: {temperature: 0}
            prompt:
              system: You answer order questions in JSON.
              user: "Where is my order? Order {{ n }}"
            expect:
              - schema: fixtures/reply.json
              - contains: "order"
              - exclamations: {max: 1}
            cases: fixtures/cases.jsonl
            """
        ),
        encoding="utf-8",
    )
    answers = [answer(i) for i in range(cases)]
    (root / "answers.json").write_text(json.dumps(answers), encoding="utf-8")


@dataclass
class Run:
    seconds: float  # whole process
    rss_mb: float
    output: str
    cpu: float = float("nan")  # user + system seconds of the process

    @property
    def phase(self) -> float | None:
        """The recording phase the terminal summary printed, in seconds."""
        found = PHASE.search(self.output)
        return float(found.group(2)) if found else None

    @property
    def passed(self) -> int:
        found = PASSED.search(self.output)
        return int(found.group(1)) if found else 0


# The child reports its own peak RSS: the high-water mark of its memory since it started
# (VmHWM; ``wait4``'s ru_maxrss would also count this big parent's image, inherited at fork).
CHILD = """
import resource, sys, pytest
code = pytest.main(sys.argv[1:])
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:  # no /proc (macOS): the process's own maximum, in bytes there
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"PEAK-RSS-KB {peak}", flush=True)
sys.exit(code)
"""
PEAK = re.compile(r"PEAK-RSS-KB (\d+)")


def run_pytest(args: Sequence[str], cwd: Path, env: Mapping[str, str], child: str = CHILD) -> Run:
    """One pytest process (or another child): wall time, CPU and peak RSS; exits loudly if it fails."""
    before, start = os.times(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", child, "-q", *args], cwd=cwd, env=dict(env), capture_output=True, text=True
    )
    seconds, after = time.perf_counter() - start, os.times()
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed in {cwd}:\n{output[-3000:]}")
    found = PEAK.search(output)
    return Run(seconds, int(found.group(1)) / 1024 if found else float("nan"), output, cpu)


# promptdrift merge in a child process, reporting its own peak RSS like CHILD.
MERGE_CHILD = CHILD.replace("import resource, sys, pytest", "import resource, sys").replace(
    "code = pytest.main(sys.argv[1:])", "from promptdrift.cli.main import main\ncode = main(sys.argv[2:])"
)


@dataclass
class Together:
    seconds: float  # wall, until the last process is done
    cpu: float  # user + system seconds of the processes
    here_cpu: float  # of this process meanwhile: the demo server's threads, when it runs here


def together(commands: Sequence[tuple[Sequence[str], Path, Mapping[str, str]]]) -> Together:
    """Start the pytest processes at once (stand-ins for CI runners); wall time until the last is done."""
    before = os.times()
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", *args], cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL
        )
        for args, cwd, env in commands
    ]
    codes = [proc.wait() for proc in procs]
    seconds = time.perf_counter() - start
    after = os.times()
    if any(code != 0 for code in codes):
        sys.exit(f"a shard failed: exit statuses {codes}")
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    return Together(seconds, cpu, after.user + after.system - before.user - before.system)


@dataclass
class Figures:
    name: str
    runs: list[Run] = field(default_factory=list)

    def median(self, measure: Callable[[Run], float | None] = lambda r: r.seconds) -> float:
        return statistics.median(float(measure(r) or 0.0) for r in self.runs)

    def spread(self, measure: Callable[[Run], float | None] = lambda r: r.seconds) -> str:
        values = sorted(float(measure(r) or 0.0) for r in self.runs)
        return f"{values[0]:.2f} / {statistics.median(values):.2f} / {values[-1]:.2f}"


def repeat(name: str, runs: int, once: Callable[[], Run]) -> Figures:
    figures = Figures(name, [once() for _ in range(runs)])
    phase = f", recording phase {figures.spread(lambda r: r.phase)} s" if figures.runs[0].phase else ""
    print(
        f"  {name}: process {figures.spread()} s{phase} (min / median / max), "
        f"peak RSS {figures.median(lambda r: r.rss_mb):.0f} MB",
        flush=True,
    )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each workload (default 5; the median counts)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case count (a quick look: 0.1)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument(
        "--only",
        action="append",
        choices=("core", "shards", "startup", "batch"),
        help="run only these groups (repeatable): core (record, replay, memory), shards (merge), "
        "startup (fixed costs), batch (recording through the Batch API)",
    )
    opts = parser.parse_args(argv)

    n_record = max(8, round(200 * opts.scale))
    n_small, n_large = max(10, round(1000 * opts.scale)), max(100, round(10000 * opts.scale))
    work = Path(tempfile.mkdtemp(prefix="promptdrift-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"promptdrift benchmark: {opts.runs} runs each, {os.cpu_count()} CPUs, projects in {work}", flush=True)
    rows: list[tuple[str, str, str, str]] = []
    groups = opts.only or ["core", "shards", "startup", "batch"]
    try:
        if "core" in groups:
            core(opts, work, env, rows, n_record, n_small, n_large)
        if "shards" in groups:
            shards(opts, work, env, rows, n_record, n_large)
        if "startup" in groups:
            startup(opts, work, env, rows, n_large)
        if "batch" in groups:
            batch(opts, work, env, rows, n_large)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| workload | target | median | ratio |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all(not row[3].endswith("MISSED") for row in rows) else 1


def core(
    opts: argparse.Namespace,
    work: Path,
    env: dict[str, str],
    rows: list[tuple[str, str, str, str]],
    n_record: int,
    n_small: int,
    n_large: int,
) -> None:
    """Recording at 200 ms, replay against plain pytest, replay at 10x, memory, and xdist verdicts."""
    with DemoServer(reply) as server:
        recording = {**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench-key"}
        server.latency = opts.latency
        project = work / "record"
        write_project(project, n_record)
        for label, extra in BYTECODE:
            for concurrency in (16, 4):
                ideal = n_record * opts.latency / concurrency

                def record(c: int = concurrency, e: Mapping[str, str] = {**recording, **extra}) -> Run:
                    shutil.rmtree(project / "cassettes", ignore_errors=True)
                    return run_pytest(["--prompt-record=all", f"--prompt-concurrency={c}"], project, e)

                fig = repeat(f"record {n_record} cases, concurrency {concurrency}, {label}", opts.runs, record)
                what = f"record {n_record} cases at {opts.latency * 1000:.0f} ms, concurrency {concurrency} ({label})"
                if concurrency == 16:
                    phase = fig.median(lambda r: r.phase)
                    rows.append(
                        (
                            f"{what}: recording phase",
                            f"≤ 1.2 x ideal {ideal:.2f} s",
                            f"{phase:.2f} s",
                            verdict(phase / ideal, 1.2),
                        )
                    )
                    rows.append(
                        (
                            f"{what}: whole process",
                            f"≤ ideal + 1.0 s = {ideal + 1.0:.2f} s",
                            f"{fig.median():.2f} s (phase {phase:.2f} s)",
                            verdict(fig.median() / (ideal + 1.0), 1.0),
                        )
                    )
                else:
                    rows.append(
                        (
                            f"{what}: whole process",
                            f"≤ 1.15 x ideal {ideal:.2f} s",
                            f"{fig.median():.2f} s (phase {fig.median(lambda r: r.phase):.2f} s)",
                            verdict(fig.median() / ideal, 1.15),
                        )
                    )
        server.latency = 0.0
        for n in (n_small, n_large):
            write_project(work / f"replay{n}", n)
            print(f"  recording {n} cases for the replay workloads…", flush=True)
            run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], work / f"replay{n}", recording)
    # The server is gone and no key is set: the replays cannot reach anything.
    offline = {**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    small, large = work / f"replay{n_small}", work / f"replay{n_large}"
    replay_small = repeat(f"replay {n_small} cases", opts.runs, lambda: run_pytest([], small, offline))
    replay_large = repeat(f"replay {n_large} cases", opts.runs, lambda: run_pytest([], large, offline))
    replay_large_nobc = repeat(
        f"replay {n_large} cases, PYTHONDONTWRITEBYTECODE=1",
        opts.runs,
        lambda: run_pytest([], large, {**offline, **BYTECODE[1][1]}),
    )

    def plain(project: Path) -> Run:
        env = {
            **offline,
            "PROMPTDRIFT_BENCH_ANSWERS": str(project / "answers.json"),
            "PROMPTDRIFT_BENCH_SCHEMA": str(project / "fixtures" / "reply.json"),
        }
        args = ["-p", "no:promptdrift", "-p", "no:cacheprovider", "--rootdir", str(HERE)]
        return run_pytest([*args, str(HERE / "baseline_test.py")], project, env)

    baseline = repeat(f"plain pytest, {n_small} answers from JSON", opts.runs, lambda: plain(small))
    baseline_large = repeat(f"plain pytest, {n_large} answers from JSON", opts.runs, lambda: plain(large))
    xdist = run_pytest(["-n", "2"], small, offline)

    rss_small, rss_large = replay_small.median(lambda r: r.rss_mb), replay_large.median(lambda r: r.rss_mb)
    rows += [
        (
            f"replay {n_small} cases vs plain pytest",
            "≤ 2 x",
            f"{replay_small.median():.2f} s vs {baseline.median():.2f} s",
            verdict(replay_small.median() / baseline.median(), 2.0),
        ),
        (f"replay {n_small} cases, peak RSS", "≤ 120 MB", f"{rss_small:.0f} MB", verdict(rss_small / 120, 1.0)),
        (
            f"replay {n_large} vs {n_small} cases, time",
            "≤ 10.5 x",
            f"{replay_large.median():.2f} s vs {replay_small.median():.2f} s",
            verdict(replay_large.median() / replay_small.median(), 10.5),
        ),
        *(
            (
                f"replay {n_large} cases, whole process ({label})",
                f"≤ {12 * n_large / 10000:.1f} s",
                f"{fig.median():.2f} s",
                verdict(fig.median() / (12 * n_large / 10000), 1.0),
            )
            for (label, _), fig in zip(BYTECODE, (replay_large, replay_large_nobc), strict=True)
        ),
        (
            f"replay {n_large} cases, peak RSS over plain pytest running the same checks",
            "≤ 10 MB",
            f"{rss_large:.0f} MB vs {baseline_large.median(lambda r: r.rss_mb):.0f} MB",
            f"{rss_large - baseline_large.median(lambda r: r.rss_mb):+.0f} MB — "
            + ("met" if rss_large - baseline_large.median(lambda r: r.rss_mb) <= 10 else "MISSED"),
        ),
        (
            f"for scale: plain pytest, {n_large} vs {n_small} tests, peak RSS",
            "(no target)",
            f"{baseline_large.median(lambda r: r.rss_mb):.0f} MB vs {baseline.median(lambda r: r.rss_mb):.0f} MB",
            f"{baseline_large.median(lambda r: r.rss_mb) / baseline.median(lambda r: r.rss_mb):.2f} x",
        ),
        (
            f"replay {n_small} cases with pytest -n 2",
            "same verdicts",
            f"{xdist.passed} passed (single process: {replay_small.runs[0].passed})",
            "met" if xdist.passed == replay_small.runs[0].passed == n_small else "MISSED",
        ),
    ]


def shards(
    opts: argparse.Namespace,
    work: Path,
    env: dict[str, str],
    rows: list[tuple[str, str, str, str]],
    n_record: int,
    n_large: int,
) -> None:
    """Sharded runs: recording 4 x 200 cases at once, merging 10,000 records, replaying 10,000 on 2 cores."""
    n_shards = 4
    with DemoServer(reply) as server:
        recording = {**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench-key"}
        server.latency = opts.latency
        record = ["--prompt-record=all", "--prompt-concurrency=16"]
        single, sharded = [], []
        floor_single, floor_sharded = [], []  # the same calls by plain pytest and the SDK (sdk_floor_test.py)
        for number in range(opts.runs):  # in turn, so all see the same machine
            # Projects of their own, deleted at the end (see batch(): deleting cassettes right before recording
            # new ones costs kernel time on this file system).
            one, four = work / f"shard-one-{number + 1}", work / f"shard-four-{number + 1}"
            write_project(one, n_record)
            write_project(four, n_shards * n_record)
            alone = together([(record, one, recording)])
            shard_args = [
                ([*record, f"--prompt-shard={i}/{n_shards}"], four, recording) for i in range(1, n_shards + 1)
            ]
            four_at_once = together(shard_args)
            single.append(alone.seconds)
            sharded.append(four_at_once.seconds)
            floor_alone = together([sdk_floor(work, recording, 0, n_record)])
            floor_four = together([sdk_floor(work, recording, i * n_record, n_record) for i in range(n_shards)])
            floor_single.append(floor_alone.seconds)
            floor_sharded.append(floor_four.seconds)
            # On a machine this busy the four processes are CPU-bound: their CPU and the demo server's (it runs
            # in this process, standing in for the provider's machines) over the cores bounds the wall from below.
            least = (four_at_once.cpu + four_at_once.here_cpu) / (os.cpu_count() or 1)
            print(
                f"  one process {alone.seconds:.2f} s ({alone.cpu:.2f} s CPU, demo server {alone.here_cpu:.2f} s); "
                f"{n_shards} at once {four_at_once.seconds:.2f} s ({four_at_once.cpu:.2f} s CPU, demo server "
                f"{four_at_once.here_cpu:.2f} s, over {os.cpu_count()} cores at least {least:.2f} s): "
                f"{four_at_once.seconds / alone.seconds:.2f} x",
                flush=True,
            )
            print(
                f"    floor, pytest and the SDK alone: one process {floor_alone.seconds:.2f} s ({floor_alone.cpu:.2f} "
                f"s CPU); {n_shards} at once {floor_four.seconds:.2f} s ({floor_four.cpu:.2f} s CPU): "
                f"{floor_four.seconds / floor_alone.seconds:.2f} x",
                flush=True,
            )
        server.latency = 0.0
        large = work / f"shard-replay{n_large}"
        write_project(large, n_large)
        print(f"  recording {n_large} cases for the merge and sharded replay workloads…", flush=True)
        run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], large, recording)
    # Each four-shard run is paired with the one-process run right before it (the machine's speed drifts between
    # runs: the same process's CPU varied by a quarter here), as the batch group pairs its runs.
    ratio, floor_ratio = paired(sharded, single), paired(floor_sharded, floor_single)
    print(
        f"  record {n_shards} x {n_record} cases in {n_shards} shard processes at once: {statistics.median(sharded):.2f} s; "
        f"{n_record} in one process: {statistics.median(single):.2f} s; ratio of the medians "
        f"{statistics.median(sharded) / statistics.median(single):.2f} x, median of the pairs {ratio:.2f} x "
        f"(floor, the same calls without promptdrift: {floor_ratio:.2f} x)",
        flush=True,
    )
    rows.append(
        (
            f"record {n_shards} x {n_record} cases at {opts.latency * 1000:.0f} ms as {n_shards} shard processes at once",
            f"≤ 1.5 x one process recording {n_record}",
            f"{statistics.median(sharded):.2f} s vs {statistics.median(single):.2f} s (ratio: median of {len(single)} pairs)",
            verdict(ratio, 1.5),
        )
    )
    rows.append(
        (
            f"floor: plain pytest making the same {n_record} calls through the SDK, {n_shards} processes at once "
            "vs one (promptdrift disabled, nothing recorded)",
            "(none)",
            f"{statistics.median(floor_sharded):.2f} s vs {statistics.median(floor_single):.2f} s "
            f"(ratio: median of {len(floor_single)} pairs)",
            f"{floor_ratio:.2f} x",
        )
    )
    offline = {**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    for i in range(1, n_shards + 1):
        run_pytest([f"--prompt-records={work / 'records'}", f"--prompt-shard={i}/{n_shards}"], large, offline)
    merge = repeat(
        f"promptdrift merge of {n_shards} shards, {n_large} case records",
        opts.runs,
        lambda: run_pytest(["merge", str(work / "records")], large, offline, child=MERGE_CHILD),
    )
    rows.append(
        (
            f"promptdrift merge, {n_shards} shards holding {n_large} case records",
            "≤ 2 s and ≤ 100 MB",
            f"{merge.median():.2f} s, {merge.median(lambda r: r.rss_mb):.0f} MB",
            verdict(max(merge.median() / 2, merge.median(lambda r: r.rss_mb) / 100), 1.0),
        )
    )
    one_process, two_shards = [], []
    for _ in range(opts.runs):
        alone = together([([], large, offline)])
        halves = together([([f"--prompt-shard={i}/2"], large, offline) for i in (1, 2)])
        one_process.append(alone.seconds)
        two_shards.append(halves.seconds)
        print(
            f"  replay {n_large}: one process {alone.seconds:.2f} s ({alone.cpu:.2f} s CPU); 2 shards at once "
            f"{halves.seconds:.2f} s ({halves.cpu:.2f} s CPU): {halves.seconds / alone.seconds:.2f} x",
            flush=True,
        )
    # Paired as the recording runs above are: each two-shard replay with the one-process replay right before it.
    ratio = paired(two_shards, one_process)
    rows.append(
        (
            f"replay {n_large} cases as 2 shard processes on {os.cpu_count()} cores",
            "≤ 0.65 x one process",
            f"{statistics.median(two_shards):.2f} s vs {statistics.median(one_process):.2f} s "
            f"(ratio: median of {len(one_process)} pairs; of the medians "
            f"{statistics.median(two_shards) / statistics.median(one_process):.2f} x)",
            verdict(ratio, 0.65),
        )
    )


def sdk_floor(
    work: Path, env: Mapping[str, str], first: int, count: int
) -> tuple[Sequence[str], Path, Mapping[str, str]]:
    """A ``together`` command: plain pytest (promptdrift disabled) asking for orders ``first`` to ``first + count``
    through the openai SDK, 16 at a time (``sdk_floor_test.py``)."""
    # Hypothesis's plugin off as well: it would import Hypothesis at the end of the run (0.2 s), which
    # promptdrift spares a run that did not use it (promptdrift.plugin.idle_hypothesis).
    plain = ["-p", "no:promptdrift", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"]
    args = [*plain, "--rootdir", str(HERE), str(HERE / "sdk_floor_test.py")]
    floor_env = {**env, "PROMPTDRIFT_FLOOR_FIRST": str(first), "PROMPTDRIFT_FLOOR_COUNT": str(count)}
    return args, work, floor_env


def startup(
    opts: argparse.Namespace, work: Path, env: dict[str, str], rows: list[tuple[str, str, str, str]], n_large: int
) -> None:
    """Fixed costs, with and without byte-code caching: what promptdrift adds to a run, collection, small replays."""
    plain = work / "one-test"
    plain.mkdir(parents=True, exist_ok=True)
    (plain / "test_one.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    (plain / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
    with DemoServer(reply) as server:
        recording = {**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench-key"}
        small, large = work / "startup200", work / f"startup{n_large}"
        write_project(small, 200)
        write_project(large, n_large)
        run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], small, recording)
    offline = {**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    for label, extra in BYTECODE:
        run_env = {**offline, **extra}
        floors(opts, work, run_env, rows, label, n_large)
        # Two short runs differ by less than the machine's noise: the runs go in pairs (with, then without the
        # plugin), many of them, and the median of the pairs' differences counts.
        differences = []
        for _ in range(8 * opts.runs):
            with_plugin = run_pytest([], plain, run_env)
            differences.append(with_plugin.seconds - run_pytest(["-p", "no:promptdrift"], plain, run_env).seconds)
        added = statistics.median(differences) * 1000
        print(
            f"  one test, with minus without promptdrift, {label}: {added:+.0f} ms (median of {len(differences)} pairs)"
        )
        rows.append(
            (
                f"promptdrift installed, a run with no suite ({label})",
                "≤ 50 ms",
                f"{added:+.0f} ms (median of {len(differences)} paired differences)",
                verdict(added / 50, 1.0),
            )
        )
        replay = repeat(f"replay 200 cases, {label}", opts.runs, lambda e=run_env: run_pytest([], small, e))
        rows.append(
            (
                f"replay 200 cases, whole process ({label})",
                "≤ 1.0 s",
                f"{replay.median():.2f} s",
                verdict(replay.median(), 1.0),
            )
        )
        collect = repeat(
            f"collect {n_large} cases, {label}", opts.runs, lambda e=run_env: run_pytest(["--collect-only"], large, e)
        )
        rows.append(
            (
                f"pytest --collect-only, {n_large} cases ({label})",
                "≤ 1.0 s",
                f"{collect.median():.2f} s",
                verdict(collect.median(), 1.0),
            )
        )


def floors(
    opts: argparse.Namespace,
    work: Path,
    env: Mapping[str, str],
    rows: list[tuple[str, str, str, str]],
    label: str,
    n_large: int,
) -> None:
    """What the targets stand on: plain pytest (promptdrift disabled) with as many trivial tests, the SDK's import.

    No target of its own: a promptdrift figure cannot go below the floor beside it on the same machine.
    """
    plain = ["-p", "no:promptdrift"]
    for n in (200, n_large):
        project = work / f"trivial{n}"
        project.mkdir(parents=True, exist_ok=True)
        (project / "test_trivial.py").write_text(
            f"import pytest\n\n\n@pytest.mark.parametrize('n', range({n}))\ndef test_n(n):\n    assert n >= 0\n",
            encoding="utf-8",
        )
        (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
        fig = repeat(
            f"floor: plain pytest, {n} trivial tests, {label}", opts.runs, lambda p=project: run_pytest(plain, p, env)
        )
        rows.append((f"floor: plain pytest, {n} trivial tests ({label})", "(none)", f"{fig.median():.2f} s", "-"))
        if n == n_large:
            fig = repeat(
                f"floor: plain pytest --collect-only, {n} trivial tests, {label}",
                opts.runs,
                lambda p=project: run_pytest([*plain, "--collect-only"], p, env),
            )
            rows.append(
                (
                    f"floor: plain pytest --collect-only, {n} trivial tests ({label})",
                    "(none)",
                    f"{fig.median():.2f} s",
                    "-",
                )
            )
    fig = repeat(
        f"floor: python -c 'import openai', {label}",
        opts.runs,
        lambda: run_pytest([], work, env, child="import openai"),
    )
    rows.append(
        (f"floor: a bare interpreter importing the openai SDK ({label})", "(none)", f"{fig.median():.2f} s", "-")
    )


def batch(
    opts: argparse.Namespace, work: Path, env: dict[str, str], rows: list[tuple[str, str, str, str]], n_large: int
) -> None:
    """Recording 10,000 single-call cases through one provider batch (completing at once) against replaying them.

    The demo server runs in this process; the seconds it spends answering the batch's requests are the
    provider's work, not promptdrift's, and are taken out of the batch run's wall time (both are printed).

    Each run records into a project of its own, and the projects are deleted only at the end: on a file
    system without a journal (ext4 here), creating a file skips every inode freed in the last minute or
    more, so creating 10,000 cassettes right after deleting the last run's 10,000 spends seconds of kernel
    time on the benchmark's own cleanup. :func:`file_creation` prints that cost on this machine.
    """
    offline = {**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    batched, replayed, local = [], [], []
    with DemoServer(reply) as server:
        recording = {**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench-key"}
        args = ["--prompt-record=all", "--prompt-batch", "--prompt-batch-poll=0.2"]
        for number in range(opts.runs):  # in turn, so both see the same machine
            project = work / f"batch{n_large}-{number + 1}"
            write_project(project, n_large)
            before = server.batch.busy
            run = run_pytest(args, project, recording)
            provider = server.batch.busy - before
            batched.append(run)
            local.append(run.seconds - provider)
            replayed.append(run_pytest([], project, offline))
            print(
                f"  batch record {n_large} cases: process {run.seconds:.2f} s (demo provider {provider:.2f} s of it), "
                f"peak RSS {run.rss_mb:.0f} MB; replay {replayed[-1].seconds:.2f} s, {replayed[-1].rss_mb:.0f} MB; "
                f"local work / replay {local[-1] / replayed[-1].seconds:.2f} x; CPU {run.cpu:.2f} s vs "
                f"{replayed[-1].cpu:.2f} s, {run.cpu / replayed[-1].cpu:.2f} x",
                flush=True,
            )
    file_creation(work / "file-creation", n_large)
    seconds, replay_seconds = statistics.median(local), statistics.median(r.seconds for r in replayed)
    rss, replay_rss = statistics.median(r.rss_mb for r in batched), statistics.median(r.rss_mb for r in replayed)
    # Each batch run is paired with the replay right after it (the machine's speed drifts between runs).
    by_time = paired(local, [replay.seconds for replay in replayed])
    # The same pairs by CPU seconds: the batch process's own, without the demo provider's (it runs in this one).
    by_cpu = paired([run.cpu for run in batched], [replay.cpu for replay in replayed])
    print(f"  batch record / replay by CPU of the process: median of {len(batched)} pairs {by_cpu:.2f} x", flush=True)
    rows += [
        (
            f"record {n_large} cases through a batch (local work) vs replaying them",
            "≤ 2 x",
            f"{seconds:.2f} s vs {replay_seconds:.2f} s (ratio: median of {len(local)} pairs)",
            verdict(by_time, 2.0),
        ),
        (
            f"record {n_large} cases through a batch vs replay, peak RSS",
            "≤ 1.5 x",
            f"{rss:.0f} MB vs {replay_rss:.0f} MB",
            verdict(rss / replay_rss, 1.5),
        ),
    ]


def file_creation(folder: Path, count: int) -> None:
    """Kernel seconds to create ``count`` small files (write to a temporary name, rename: as a cassette is
    saved) in a new folder, then again right after deleting them: what deleting the last run's cassettes
    would add to the next recording on this file system."""

    def create() -> float:
        folder.mkdir(parents=True, exist_ok=True)
        before = os.times().system
        for number in range(count):
            temporary = folder / f".c{number}.tmp"
            temporary.write_text("x" * 2000, encoding="utf-8")
            os.replace(temporary, folder / f"c{number}.yaml")
        return os.times().system - before

    fresh = create()
    shutil.rmtree(folder)
    again = create()
    shutil.rmtree(folder)
    print(
        f"  file system: creating {count} files takes {fresh:.2f} s of kernel time in a new folder, {again:.2f} s "
        "right after deleting as many (why each run records into a project of its own)",
        flush=True,
    )


def paired(measured: Sequence[float], reference: Sequence[float]) -> float:
    """The median of each run's ratio to the reference run beside it (the machine's speed drifts between runs)."""
    return statistics.median(m / r for m, r in zip(measured, reference, strict=True))


def verdict(ratio: float, limit: float) -> str:
    return f"{ratio:.2f} x — {'met' if ratio <= limit else 'MISSED'}"


if __name__ == "__main__":
    raise SystemExit(main())
