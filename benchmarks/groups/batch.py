"""Recording 10,000 single-call cases through one provider batch (completing at once) against replaying them.

The demo server runs in this process; the seconds it spends answering the batch's requests are the
provider's work, not promptdrift's, and are taken out of the batch run's wall time (both are printed).

Each run records into a project of its own, and the projects are deleted only at the end: on a file
system without a journal (ext4 here), creating a file skips every inode freed in the last minute or
more, so creating 10,000 cassettes right after deleting the last run's 10,000 spends seconds of kernel
time on the benchmark's own cleanup. :func:`file_creation` prints that cost on this machine.
"""

from __future__ import annotations

import os
import shutil
import statistics
from pathlib import Path

from bench import Bench, Run, paired, run_pytest, write_project


def run(bench: Bench) -> None:
    n_large = bench.scaled(10000, 100)
    batched: list[Run] = []
    replayed: list[Run] = []
    local: list[float] = []
    server = bench.server
    server.latency = 0.0
    args = ["--prompt-record=all", "--prompt-batch", "--prompt-batch-poll=0.2"]
    for number in range(bench.opts.runs):  # in turn, so both see the same machine
        project = bench.work / f"batch{n_large}-{number + 1}"
        write_project(project, n_large)
        before = server.batch.busy
        run = run_pytest(args, project, bench.recording)
        provider = server.batch.busy - before
        batched.append(run)
        local.append(run.seconds - provider)
        replayed.append(run_pytest([], project, bench.offline))
        print(
            f"  batch record {n_large} cases: process {run.seconds:.2f} s (demo provider {provider:.2f} s of it), "
            f"peak RSS {run.rss_mb:.0f} MB; replay {replayed[-1].seconds:.2f} s, {replayed[-1].rss_mb:.0f} MB; "
            f"local work / replay {local[-1] / replayed[-1].seconds:.2f} x; CPU {run.cpu:.2f} s vs "
            f"{replayed[-1].cpu:.2f} s, {run.cpu / replayed[-1].cpu:.2f} x",
            flush=True,
        )
    file_creation(bench.work / "file-creation", n_large)
    seconds, replay_seconds = statistics.median(local), statistics.median(r.seconds for r in replayed)
    rss, replay_rss = statistics.median(r.rss_mb for r in batched), statistics.median(r.rss_mb for r in replayed)
    # The same pairs by CPU seconds: the batch process's own, without the demo provider's (it runs in this one).
    by_cpu = paired([run.cpu for run in batched], [replay.cpu for replay in replayed])
    bench.floor(
        f"replay {n_large} cases (the batch targets' reference)", f"{replay_seconds:.2f} s, {replay_rss:.0f} MB"
    )
    # Each batch run is paired with the replay right after it (the machine's speed drifts between runs).
    bench.judge(
        "batch-time",
        f"record {n_large} cases through a batch (local work) vs replaying them",
        f"{seconds:.2f} s vs {replay_seconds:.2f} s (by CPU: {by_cpu:.2f} x)",
        paired(local, [replay.seconds for replay in replayed]),
    )
    bench.judge(
        "batch-rss",
        f"record {n_large} cases through a batch vs replay, peak RSS",
        f"{rss:.0f} MB vs {replay_rss:.0f} MB",
        rss / replay_rss,
    )


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
