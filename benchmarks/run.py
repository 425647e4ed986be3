"""promptdrift's speed benchmark: one command, every target of the speed issue, with its ratio.

    python benchmarks/run.py                        # 5 runs of each workload; the median counts
    python benchmarks/run.py --runs 1 --scale 0.1   # a quick look at smaller workloads
    python benchmarks/run.py --json results.json    # every figure as JSON too (the docs' performance page)

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
  file (``baseline_checks.py``); both are whole-process wall times;
* replaying 10,000 cases (whole process, both byte-code settings) and its peak
  RSS over plain pytest running the same checks on 10,000 answers;
* the same 1,000-case replay under ``pytest -n 2``: the verdicts must match;
* (``--only providers``) recording 200 cases through Anthropic's SDK
  (``provider: anthropic``) at the same latency, beside its floor: plain
  pytest making the same calls through that SDK, promptdrift disabled;
* (``--only shards``) four shard processes recording at once, beside its
  floor: plain pytest making the same calls through the SDK, promptdrift
  disabled (``sdk_floor_calls.py``); ``promptdrift merge``; a replay split over
  two shard processes;
* (``--only startup``) what an installed promptdrift adds to a run with no
  suite, replaying 200 cases, ``--collect-only`` of 10,000, both byte-code
  settings, each beside its floor: plain pytest (``-p no:promptdrift``)
  running as many trivial tests, and a bare interpreter importing ``openai``;
* (``--only batch``) recording 10,000 cases through one provider batch that
  completes at once, against replaying them: time and peak RSS;
* (``--only report``) re-recording 2,000 and 10,000 cases against a new model
  (one in 20 regresses): the HTML report's size, its load time in headless
  Chromium (Playwright) beside the same page without its script, the time to
  write the reports against the run's wall time, the Markdown's length.

Each group is a module in ``benchmarks/groups/``; every target, with its floor and how it is
measured, is a row of ``bench.TARGETS``. One demo server serves the whole run. Nothing here is
asserted by the unit tests (``benchmarks/test_tables.py`` checks the tables, not the figures): the
figures are for people, and ``benchmarks/performance_page.py`` turns the ``--json`` file into the
documentation's performance page.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench and groups, run as a script or imported

from bench import Bench, reply
from groups import batch, core, providers, report, shards, startup

from promptdrift.testing.demo import DemoServer

GROUPS = {"core": core, "providers": providers, "shards": shards, "startup": startup, "batch": batch, "report": report}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each workload (default 5; the median counts)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case count (a quick look: 0.1)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(GROUPS),
        help="run only these groups (repeatable): core (record, replay, memory), providers (recording through "
        "Anthropic's SDK), shards (merge), "
        "startup (fixed costs), batch (recording through the Batch API), report (the reviewer's report)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure, its target and floor, as JSON")
    opts = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="promptdrift-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"promptdrift benchmark: {opts.runs} runs each, {os.cpu_count()} CPUs, projects in {work}", flush=True)
    try:
        with DemoServer(reply) as server:  # one server for the whole run
            bench = Bench(opts, work, env, server)
            for name in opts.only or list(GROUPS):
                GROUPS[name].run(bench)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + bench.table())
    if opts.json:
        Path(opts.json).write_text(json.dumps(bench.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures: {opts.json}")
    return 0 if all(f.met is not False for f in bench.figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
