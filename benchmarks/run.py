"""promptdrift's speed benchmark: one command, every target of the speed issue, with ratios.

    python benchmarks/run.py            # 5 runs of each workload, prints min / median / max
    python benchmarks/run.py --runs 1 --scale 0.1   # a quick look (smaller workloads)

It starts promptdrift's OpenAI-compatible demo server on 127.0.0.1 with an
injected latency, writes a suite of N generated cases into a temporary
project, and times separate ``pytest`` processes (peak RSS from ``wait4``):

* recording 200 cases at 200 ms latency, ``--prompt-concurrency 16`` and ``4``,
  against the ideal N·L/C;
* replaying 1,000 cases (schema + contains + a tone limit) against plain pytest
  running the same three checks on the same answers (``baseline_test.py``);
* replaying 10,000 cases against 1,000 (time and peak RSS).

Times are the wall time of the whole ``pytest`` process, start-up included.
Nothing here is asserted in the unit tests; the figures are for people.
"""

from __future__ import annotations

import argparse
import json
import os
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

from promptdrift.demo import DemoServer, Rule

HERE = Path(__file__).resolve().parent
SCHEMA = {
    "type": "object",
    "required": ["order", "reply"],
    "properties": {"order": {"type": "integer"}, "reply": {"type": "string"}},
    "additionalProperties": False,
}


def reply(body: Mapping[str, Any]) -> Rule:
    """The server's answer: JSON that names the order number found in the prompt."""
    text = str(body["messages"][-1]["content"])
    number = int(text.rsplit(" ", 1)[-1])
    return Rule(reply={"json": {"order": number, "reply": f"Your order {number} ships today."}})


def write_project(root: Path, cases: int) -> None:
    """A project with one suite of ``cases`` generated cases and the schema its checks use."""
    (root / "suites").mkdir(parents=True, exist_ok=True)
    (root / "fixtures").mkdir(exist_ok=True)
    (root / "fixtures" / "reply.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    with open(root / "fixtures" / "cases.jsonl", "w", encoding="utf-8") as out:
        for i in range(cases):
            out.write(json.dumps({"id": f"c{i:05d}", "vars": {"n": i}}) + "\n")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.pytest.ini_options]
            testpaths = ["suites"]
            addopts = "-p no:cacheprovider"
            """
        ),
        encoding="utf-8",
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


@dataclass
class Run:
    seconds: float
    rss_mb: float
    output: str


def run_pytest(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Run:
    """One pytest process: wall time and peak RSS (from ``wait4``), failing loudly if pytest fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"pytest {' '.join(args)} failed in {cwd}:\n{output[-3000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, output)


@dataclass
class Figures:
    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rss(self) -> float:
        return statistics.median(r.rss_mb for r in self.runs)

    def times(self) -> str:
        s = sorted(r.seconds for r in self.runs)
        return f"{s[0]:6.2f} {self.median:6.2f} {s[-1]:6.2f}"


def repeat(name: str, runs: int, once: Callable[[], Run]) -> Figures:
    figures = Figures(name)
    for _ in range(runs):
        figures.runs.append(once())
    print(f"  {name}: {figures.times()} s (min median max), peak RSS {figures.rss:.0f} MB", flush=True)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each workload (default 5; median counts)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case count (quick looks: 0.1)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects and print where")
    opts = parser.parse_args(argv)

    n_record = max(8, int(200 * opts.scale))
    n_small, n_large = max(10, int(1000 * opts.scale)), max(100, int(10000 * opts.scale))
    work = Path(tempfile.mkdtemp(prefix="promptdrift-bench-"))
    env = {"OPENAI_API_KEY": "bench-key", "PYTHONDONTWRITEBYTECODE": "1"}
    rows: list[tuple[str, str, float, float, str]] = []
    print(f"promptdrift benchmark in {work} ({opts.runs} runs each, {os.cpu_count()} CPUs)", flush=True)
    with DemoServer(reply) as server:
        env["OPENAI_BASE_URL"] = server.base_url

        # -- recording -------------------------------------------------------------------
        server.latency = opts.latency
        rec = work / "record"
        write_project(rec, n_record)
        for concurrency, limit in ((16, 1.3), (4, 1.2)):
            ideal = n_record * opts.latency / concurrency

            def record(c: int = concurrency) -> Run:
                shutil.rmtree(rec / "cassettes", ignore_errors=True)
                return run_pytest(["--prompt-record=all", f"--prompt-concurrency={c}"], rec, env)

            fig = repeat(f"record {n_record} cases, concurrency {concurrency}", opts.runs, record)
            rows.append(
                (
                    f"record {n_record} @ {opts.latency * 1000:.0f} ms, concurrency {concurrency}",
                    f"≤ {limit} × ideal {ideal:.2f} s",
                    fig.median,
                    fig.median / ideal,
                    f"{fig.rss:.0f} MB",
                )
            )
            rows[-1] = (*rows[-1][:4], f"{fig.rss:.0f} MB" + ("" if fig.median / ideal <= limit else "  MISSED"))

        # -- replay ----------------------------------------------------------------------
        server.latency = 0.0
        projects = {}
        for n in (n_small, n_large):
            project = work / f"replay{n}"
            write_project(project, n)
            print(f"  recording {n} cases for the replay workloads…", flush=True)
            run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], project, env)
            answers = [
                json.dumps({"order": i, "reply": f"Your order {i} ships today."}, separators=(",", ":"))
                for i in range(n)
            ]
            (project / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
            projects[n] = project
    # The server is stopped: replays cannot reach it.
    offline = {**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    offline.pop("OPENAI_API_KEY")
    figs = {}
    for n in (n_small, n_large):
        figs[n] = repeat(f"replay {n} cases", opts.runs, lambda p=projects[n]: run_pytest([], p, offline))
    small = projects[n_small]
    base_env = {
        **offline,
        "PROMPTDRIFT_BENCH_ANSWERS": str(small / "answers.json"),
        "PROMPTDRIFT_BENCH_SCHEMA": str(small / "fixtures" / "reply.json"),
    }
    baseline = repeat(
        f"plain pytest, {n_small} answers from JSON",
        opts.runs,
        lambda: run_pytest(
            ["-p", "no:promptdrift", "--rootdir", str(HERE), str(HERE / "baseline_test.py")], small, base_env
        ),
    )

    def verdict(ok: bool) -> str:
        return "" if ok else "  MISSED"

    ratio = figs[n_small].median / baseline.median
    rows.append(
        (
            f"replay {n_small} cases vs plain pytest",
            "≤ 2 ×",
            figs[n_small].median,
            ratio,
            f"{figs[n_small].rss:.0f} MB (≤ 120){verdict(ratio <= 2 and figs[n_small].rss <= 120)}",
        )
    )
    time_ratio = figs[n_large].median / figs[n_small].median
    rss_ratio = figs[n_large].rss / figs[n_small].rss
    rows.append(
        (
            f"replay {n_large} vs {n_small} cases",
            "≤ 10.5 × time, ≤ 1.3 × RSS",
            figs[n_large].median,
            time_ratio,
            f"{figs[n_large].rss:.0f} MB = {rss_ratio:.2f} ×{verdict(time_ratio <= 10.5 and rss_ratio <= 1.3)}",
        )
    )
    print()
    print(f"| workload | target | median wall (s) | ratio | peak RSS |\n|---|---|---|---|---|")
    for name, target, seconds, value, rss in rows:
        print(f"| {name} | {target} | {seconds:.2f} | {value:.2f} | {rss} |")
    if opts.keep:
        print(f"\nprojects kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
