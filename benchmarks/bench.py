"""What every benchmark group shares: the workload, the timed processes, the targets table, the run's context.

``benchmarks/run.py`` builds one :class:`Bench` (one demo server, one work folder, one table of figures)
and hands it to each group in ``benchmarks/groups/``. Every target is a row of :data:`TARGETS`: what it
promises, the floor it stands on, and how it is measured; a group measures, the table judges.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptdrift.testing.demo import DemoServer, Rule

HERE = Path(__file__).resolve().parent
OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there: a replay that tried to call out would fail
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


NEW_MODEL = "model-v2"  # the report group re-records against it: one case in 20 regresses, every other reworded
REGRESS_EVERY = 20


def reply(body: Mapping[str, Any]) -> Rule:
    """The server's answer: JSON naming the order number at the end of the prompt.

    Asked for :data:`NEW_MODEL`, every :data:`REGRESS_EVERY`-th order's answer leaves the order number out (its
    schema and ``contains`` checks fail: a regression) and every odd one is reworded (a word diff to show).
    """
    number = int(str(body["messages"][-1]["content"]).rsplit(" ", 1)[-1])
    if body.get("model") == NEW_MODEL:
        if number % REGRESS_EVERY == 0:
            return Rule(reply={"json": {"reply": "Sorry, I cannot find that one."}})
        if number % 2:
            return Rule(reply={"json": {"order": number, "reply": f"Good news: your order {number} leaves today."}})
    return Rule(reply={"json": {"order": number, "reply": f"Your order {number} ships today."}})


def answer(number: int) -> str:
    """The answer text the demo server gives for order ``number`` (as recorded in the cassettes)."""
    return json.dumps({"order": number, "reply": f"Your order {number} ships today."})


def write_project(root: Path, cases: int, *, provider: str = "openai") -> None:
    """A project with one suite of ``cases`` generated cases and the schema its checks use (``provider``:
    ``anthropic`` sends it through Anthropic's Messages API)."""
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
        ).replace(
            "params: {temperature: 0}\n",
            "params: {temperature: 0}\n"
            if provider == "openai"
            else f"provider: {provider}\nparams: {{max_tokens: 100}}\n",  # needed; and Anthropic has no temperature
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


def run_pytest(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], child: str = CHILD, *, expect_failure: bool = False
) -> Run:
    """One pytest process (or another child): wall time, CPU and peak RSS; exits loudly if it fails (or, with
    ``expect_failure``, unless some tests failed and nothing else went wrong)."""
    before, start = os.times(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", child, "-q", *args], cwd=cwd, env=dict(env), capture_output=True, text=True
    )
    seconds, after = time.perf_counter() - start, os.times()
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    output = proc.stdout + proc.stderr
    if proc.returncode != (1 if expect_failure else 0):
        sys.exit(f"{' '.join(args)} exited {proc.returncode} in {cwd}:\n{output[-3000:]}")
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


def sdk_floor(
    work: Path, env: Mapping[str, str], first: int, count: int, sdk: str = "openai"
) -> tuple[Sequence[str], Path, Mapping[str, str]]:
    """A ``together`` command: plain pytest (promptdrift disabled) asking for orders ``first`` to ``first + count``
    through the ``sdk`` (openai or anthropic), 16 at a time (``sdk_floor_calls.py``)."""
    # Hypothesis's plugin off as well: it would import Hypothesis at the end of the run (0.2 s), which
    # promptdrift spares a run that did not use it (promptdrift.plugin.idle_hypothesis).
    plain = ["-p", "no:promptdrift", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"]
    args = [*plain, "--rootdir", str(HERE), str(HERE / "sdk_floor_calls.py")]
    floor_env = {
        **env,
        "PROMPTDRIFT_FLOOR_FIRST": str(first),
        "PROMPTDRIFT_FLOOR_COUNT": str(count),
        "PROMPTDRIFT_FLOOR_SDK": sdk,
    }
    return args, work, floor_env


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


def paired(measured: Sequence[float], reference: Sequence[float]) -> float:
    """The median of each run's ratio to the reference run beside it (the machine's speed drifts between runs)."""
    return statistics.median(m / r for m, r in zip(measured, reference, strict=True))


# -- the targets ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One promise: the ratio ``measured / reference`` must stay at or below ``limit``."""

    says: str  # the target in words
    floor: str  # what it stands on: the same work without promptdrift, or the ideal
    how: str  # how it is measured
    limit: float


TARGETS: dict[str, Target] = {
    "record-phase": Target(
        "recording phase ≤ 1.2 x the ideal N·L/C",
        "the ideal: N cases x latency / concurrency",
        "median of runs of the phase the terminal summary prints (first case started to last done)",
        1.2,
    ),
    "record-process": Target(
        "whole process ≤ the ideal + 1.0 s",
        "the ideal N·L/C plus a second of start-up",
        "median of whole-process wall times",
        1.0,
    ),
    "record-vs-sdk": Target(
        "whole process ≤ 1.15 x the SDK alone making the same calls",
        "plain pytest making the same calls through the same SDK, 16 at a time, promptdrift disabled",
        "ratio of the medians of whole-process wall times, runs in turn",
        1.15,
    ),
    "record-process-4": Target(
        "whole process ≤ 1.15 x the ideal N·L/C",
        "the ideal: N cases x latency / concurrency",
        "median of whole-process wall times",
        1.15,
    ),
    "replay-vs-plain": Target(
        "≤ 2 x plain pytest",
        "plain pytest running the same three checks on the same answers from one JSON file",
        "ratio of the medians of whole-process wall times",
        2.0,
    ),
    "replay-rss": Target("peak RSS ≤ 120 MB", "-", "median of the processes' own VmHWM", 1.0),
    "replay-scale": Target("10 x the cases ≤ 10.5 x the time", "the smaller replay", "ratio of the medians", 10.5),
    "replay-large": Target("whole process ≤ 12 s at 10,000 cases", "-", "median of whole-process wall times", 1.0),
    "replay-rss-over-plain": Target(
        "peak RSS ≤ plain pytest + 10 MB",
        "plain pytest running the same checks on as many answers",
        "difference of the medians of VmHWM, over 10 MB",
        1.0,
    ),
    "xdist-verdicts": Target("the same verdicts under pytest -n 2", "one process", "passed counts equal", 1.0),
    "shards-record": Target(
        "4 shard processes at once ≤ 1.5 x one process recording a quarter",
        "plain pytest making the same calls through the SDK, promptdrift disabled, printed beside it",
        "median of 5 pairs (each four-shard run with the one-process run before it)",
        1.5,
    ),
    "merge": Target(
        "promptdrift merge ≤ 2 s and ≤ 100 MB", "-", "median of runs; the larger of time/2 s and RSS/100 MB", 1.0
    ),
    "shards-replay": Target(
        "2 shard processes ≤ 0.65 x one process",
        "one process replaying them all",
        "median of pairs (each two-shard replay with the one-process replay before it)",
        0.65,
    ),
    "no-suite": Target(
        "promptdrift installed adds ≤ 50 ms to a run with no suite",
        "the same run with -p no:promptdrift",
        "median of 8 x runs paired differences",
        1.0,
    ),
    "replay-200": Target("replay 200 cases ≤ 1.0 s", "plain pytest running 200 trivial tests", "median", 1.0),
    "collect": Target(
        "--collect-only of 10,000 cases ≤ 1.0 s", "plain pytest collecting 10,000 trivial tests", "median", 1.0
    ),
    "batch-time": Target(
        "recording through a batch (local work) ≤ 2 x replaying",
        "replaying the same cassettes",
        "median of pairs; the demo provider's own seconds taken out",
        2.0,
    ),
    "batch-rss": Target("peak RSS ≤ 1.5 x replaying", "replaying the same cassettes", "ratio of the medians", 1.5),
    "report-html-2k": Target("HTML report ≤ 4 MB at 2,000 cases", "-", "the file's size", 1.0),
    "report-html-10k": Target("HTML report ≤ 10 MB at 10,000 cases", "-", "the file's size", 1.0),
    "report-load": Target(
        "HTML report usable in headless Chromium ≤ 3 s at 10,000 cases",
        "the same page with its script removed: the browser parsing and laying out the table",
        "median of 5 loads from file:// until the cases table is filtered and ready (Playwright)",
        1.0,
    ),
    "report-write": Target(
        "writing the reports (Markdown, HTML, JSON) ≤ 10 % of the run's wall time",
        "the re-recording run's own wall time",
        "median of 5 processes reading the run's records and writing the three reports",
        0.10,
    ),
    "report-markdown": Target("Markdown report ≤ 65,536 characters (one pull-request comment)", "-", "its length", 1.0),
}


@dataclass
class Figure:
    """One row of the results: a workload, what it measured, and its target's verdict (or a floor's)."""

    workload: str
    measured: str
    target: str = "(floor: no target)"
    floor: str = "-"
    how: str = "-"
    ratio: float | None = None  # measured / reference, judged against the target's limit
    limit: float | None = None
    met: bool | None = None

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "-"
        return f"{self.ratio:.2f} x — {'met' if self.met else 'MISSED'}"


@dataclass
class Bench:
    """The run's context: options, the work folder, the environment, the one demo server, the figures."""

    opts: argparse.Namespace
    work: Path
    env: dict[str, str]
    server: DemoServer
    figures: list[Figure] = field(default_factory=list)

    @property
    def recording(self) -> dict[str, str]:
        """The environment of a process that records from the demo server."""
        return {**self.env, "OPENAI_BASE_URL": self.server.base_url, "OPENAI_API_KEY": "bench-key"}

    @property
    def anthropic(self) -> dict[str, str]:
        """The environment of a process that records from the demo server through Anthropic's SDK."""
        return {**self.env, "ANTHROPIC_BASE_URL": self.server.anthropic_url, "ANTHROPIC_API_KEY": "bench-key"}

    @property
    def offline(self) -> dict[str, str]:
        """The environment of a replay: no key, and nothing listening where the endpoint points."""
        return {**self.env, "OPENAI_BASE_URL": OFFLINE}

    def scaled(self, cases: int, least: int) -> int:
        return max(least, round(cases * self.opts.scale))

    def judge(self, key: str, workload: str, measured: str, ratio: float) -> None:
        """A measured figure against its target in :data:`TARGETS`."""
        target = TARGETS[key]
        self.figures.append(
            Figure(
                workload, measured, target.says, target.floor, target.how, ratio, target.limit, ratio <= target.limit
            )
        )

    def floor(self, workload: str, measured: str) -> None:
        """A figure with no target: what a target beside it stands on."""
        self.figures.append(Figure(workload, measured))

    def note(self, workload: str, measured: str, target: str = "(for scale: no target)") -> None:
        self.figures.append(Figure(workload, measured, target))

    def table(self) -> str:
        lines = ["| workload | target | measured | verdict |", "|---|---|---|---|"]
        lines += [f"| {f.workload} | {f.target} | {f.measured} | {f.verdict} |" for f in self.figures]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "cpus": os.cpu_count(),
            "runs": self.opts.runs,
            "scale": self.opts.scale,
            "latency_s": self.opts.latency,
            "figures": [{**asdict(f), "verdict": f.verdict} for f in self.figures],
        }
