"""Recording through Anthropic's SDK (``provider: anthropic``) at 200 ms, beside the same calls made by the SDK alone."""

from __future__ import annotations

import shutil
import statistics

from bench import Bench, Run, run_pytest, sdk_floor, together, write_project


def run(bench: Bench) -> None:
    opts, work = bench.opts, bench.work
    n_record = bench.scaled(200, 8)
    concurrency = 16
    ideal = n_record * opts.latency / concurrency
    bench.server.latency = opts.latency
    project = work / "anthropic"
    write_project(project, n_record, provider="anthropic")
    recorded: list[Run] = []
    floor: list[float] = []
    for _ in range(opts.runs):  # in turn, so that both see the same machine
        shutil.rmtree(project / "cassettes", ignore_errors=True)
        recorded.append(
            run_pytest(["--prompt-record=all", f"--prompt-concurrency={concurrency}"], project, bench.anthropic)
        )
        floor.append(together([sdk_floor(work, bench.anthropic, 0, n_record, "anthropic")]).seconds)
        print(
            f"  record {n_record} cases through the anthropic SDK: {recorded[-1].seconds:.2f} s "
            f"(phase {recorded[-1].phase or float('nan'):.2f} s); the SDK alone {floor[-1]:.2f} s",
            flush=True,
        )
    bench.server.latency = 0.0
    whole = statistics.median(r.seconds for r in recorded)
    phase = statistics.median(r.phase or float("nan") for r in recorded)
    what = (
        f"record {n_record} cases at {opts.latency * 1000:.0f} ms through the anthropic SDK, concurrency {concurrency}"
    )
    bench.floor(
        f"plain pytest making the same {n_record} calls through the anthropic SDK, {concurrency} at a time "
        "(promptdrift disabled, nothing recorded)",
        f"{statistics.median(floor):.2f} s",
    )
    bench.judge("record-phase", f"{what}: recording phase", f"{phase:.2f} s (ideal {ideal:.2f} s)", phase / ideal)
    bench.judge(
        "record-process",
        f"{what}: whole process",
        f"{whole:.2f} s (phase {phase:.2f} s; ideal + 1 s = {ideal + 1.0:.2f} s)",
        whole / (ideal + 1.0),
    )
    # The ideal above does not count the SDK's own cost (importing anthropic alone takes about 1.4 s here, openai
    # 0.7 s); against the SDK making the same calls, what is left is promptdrift's own work.
    bench.judge(
        "record-vs-sdk",
        f"{what}: whole process vs the SDK alone",
        f"{whole:.2f} s vs {statistics.median(floor):.2f} s",
        whole / statistics.median(floor),
    )
