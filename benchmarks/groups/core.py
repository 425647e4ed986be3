"""Recording at 200 ms, replay against plain pytest, replay at 10 x, memory, and xdist verdicts."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from bench import BYTECODE, HERE, Bench, Run, repeat, run_pytest, write_project


def run(bench: Bench) -> None:
    opts, work = bench.opts, bench.work
    n_record = bench.scaled(200, 8)
    n_small, n_large = bench.scaled(1000, 10), bench.scaled(10000, 100)
    bench.server.latency = opts.latency
    project = work / "record"
    write_project(project, n_record)
    for label, extra in BYTECODE:
        for concurrency in (16, 4):
            ideal = n_record * opts.latency / concurrency

            def record(c: int = concurrency, e: Mapping[str, str] = {**bench.recording, **extra}) -> Run:
                shutil.rmtree(project / "cassettes", ignore_errors=True)
                return run_pytest(["--prompt-record=all", f"--prompt-concurrency={c}"], project, e)

            fig = repeat(f"record {n_record} cases, concurrency {concurrency}, {label}", opts.runs, record)
            what = f"record {n_record} cases at {opts.latency * 1000:.0f} ms, concurrency {concurrency} ({label})"
            if concurrency == 16:
                phase = fig.median(lambda r: r.phase)
                bench.judge(
                    "record-phase", f"{what}: recording phase", f"{phase:.2f} s (ideal {ideal:.2f} s)", phase / ideal
                )
                bench.judge(
                    "record-process",
                    f"{what}: whole process",
                    f"{fig.median():.2f} s (phase {phase:.2f} s; ideal + 1 s = {ideal + 1.0:.2f} s)",
                    fig.median() / (ideal + 1.0),
                )
            else:
                bench.judge(
                    "record-process-4",
                    f"{what}: whole process",
                    f"{fig.median():.2f} s (phase {fig.median(lambda r: r.phase):.2f} s; ideal {ideal:.2f} s)",
                    fig.median() / ideal,
                )
    bench.server.latency = 0.0
    for n in (n_small, n_large):
        write_project(work / f"replay{n}", n)
        print(f"  recording {n} cases for the replay workloads…", flush=True)
        run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], work / f"replay{n}", bench.recording)
    offline = bench.offline
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
        return run_pytest([*args, str(HERE / "baseline_checks.py")], project, env)

    baseline = repeat(f"plain pytest, {n_small} answers from JSON", opts.runs, lambda: plain(small))
    baseline_large = repeat(f"plain pytest, {n_large} answers from JSON", opts.runs, lambda: plain(large))
    xdist = run_pytest(["-n", "2"], small, offline)

    rss_small, rss_large = replay_small.median(lambda r: r.rss_mb), replay_large.median(lambda r: r.rss_mb)
    rss_plain, rss_plain_small = baseline_large.median(lambda r: r.rss_mb), baseline.median(lambda r: r.rss_mb)
    bench.floor(f"plain pytest, the same checks on {n_small} answers from JSON", f"{baseline.median():.2f} s")
    bench.judge(
        "replay-vs-plain",
        f"replay {n_small} cases vs plain pytest",
        f"{replay_small.median():.2f} s vs {baseline.median():.2f} s",
        replay_small.median() / baseline.median(),
    )
    bench.judge("replay-rss", f"replay {n_small} cases, peak RSS", f"{rss_small:.0f} MB", rss_small / 120)
    bench.judge(
        "replay-scale",
        f"replay {n_large} vs {n_small} cases, time",
        f"{replay_large.median():.2f} s vs {replay_small.median():.2f} s",
        replay_large.median() / replay_small.median(),
    )
    for (label, _), fig in zip(BYTECODE, (replay_large, replay_large_nobc), strict=True):
        limit = 12 * n_large / 10000
        bench.judge(
            "replay-large",
            f"replay {n_large} cases, whole process ({label})",
            f"{fig.median():.2f} s (target {limit:.1f} s)",
            fig.median() / limit,
        )
    bench.floor(f"plain pytest, the same checks on {n_large} answers, peak RSS", f"{rss_plain:.0f} MB")
    bench.judge(
        "replay-rss-over-plain",
        f"replay {n_large} cases, peak RSS over plain pytest running the same checks",
        f"{rss_large:.0f} MB vs {rss_plain:.0f} MB ({rss_large - rss_plain:+.0f} MB)",
        (rss_large - rss_plain) / 10,
    )
    bench.note(
        f"plain pytest, {n_large} vs {n_small} tests, peak RSS",
        f"{rss_plain:.0f} MB vs {rss_plain_small:.0f} MB ({rss_plain / rss_plain_small:.2f} x)",
    )
    same = xdist.passed == replay_small.runs[0].passed == n_small
    bench.judge(
        "xdist-verdicts",
        f"replay {n_small} cases with pytest -n 2",
        f"{xdist.passed} passed (single process: {replay_small.runs[0].passed})",
        1.0 if same else 2.0,
    )
