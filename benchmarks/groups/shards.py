"""Sharded runs: recording 4 x 200 cases at once beside its floor, merging 10,000 records, replaying on 2 cores."""

from __future__ import annotations

import os
import statistics

from bench import MERGE_CHILD, Bench, paired, repeat, run_pytest, sdk_floor, together, write_project


def run(bench: Bench) -> None:
    opts, work = bench.opts, bench.work
    n_record, n_large = bench.scaled(200, 8), bench.scaled(10000, 100)
    n_shards = 4
    bench.server.latency = opts.latency
    recording = bench.recording
    record = ["--prompt-record=all", "--prompt-concurrency=16"]
    single, sharded = [], []
    floor_single, floor_sharded = [], []  # the same calls by plain pytest and the SDK (sdk_floor_calls.py)
    for number in range(opts.runs):  # in turn, so all see the same machine
        # Projects of their own, deleted at the end (see groups/batch.py: deleting cassettes right before
        # recording new ones costs kernel time on this file system).
        one, four = work / f"shard-one-{number + 1}", work / f"shard-four-{number + 1}"
        write_project(one, n_record)
        write_project(four, n_shards * n_record)
        alone = together([(record, one, recording)])
        shard_args = [([*record, f"--prompt-shard={i}/{n_shards}"], four, recording) for i in range(1, n_shards + 1)]
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
    bench.server.latency = 0.0
    large = work / f"shard-replay{n_large}"
    write_project(large, n_large)
    print(f"  recording {n_large} cases for the merge and sharded replay workloads…", flush=True)
    run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], large, recording)
    # Each four-shard run is paired with the one-process run right before it (the machine's speed drifts between
    # runs: the same process's CPU varied by a quarter here), as the batch group pairs its runs.
    ratio, floor_ratio = paired(sharded, single), paired(floor_sharded, floor_single)
    bench.judge(
        "shards-record",
        f"record {n_shards} x {n_record} cases at {opts.latency * 1000:.0f} ms as {n_shards} shard processes at once",
        f"{statistics.median(sharded):.2f} s vs {statistics.median(single):.2f} s (floor's pairs {floor_ratio:.2f} x)",
        ratio,
    )
    bench.floor(
        f"plain pytest making the same {n_record} calls through the SDK, {n_shards} processes at once vs one "
        "(promptdrift disabled, nothing recorded)",
        f"{statistics.median(floor_sharded):.2f} s vs {statistics.median(floor_single):.2f} s: {floor_ratio:.2f} x",
    )
    offline = bench.offline
    for i in range(1, n_shards + 1):
        run_pytest([f"--prompt-records-dir={work / 'records'}", f"--prompt-shard={i}/{n_shards}"], large, offline)
    merge = repeat(
        f"promptdrift merge of {n_shards} shards, {n_large} case records",
        opts.runs,
        lambda: run_pytest(["merge", str(work / "records")], large, offline, child=MERGE_CHILD),
    )
    bench.judge(
        "merge",
        f"promptdrift merge, {n_shards} shards holding {n_large} case records",
        f"{merge.median():.2f} s, {merge.median(lambda r: r.rss_mb):.0f} MB",
        max(merge.median() / 2, merge.median(lambda r: r.rss_mb) / 100),
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
    bench.judge(
        "shards-replay",
        f"replay {n_large} cases as 2 shard processes on {os.cpu_count()} cores",
        f"{statistics.median(two_shards):.2f} s vs {statistics.median(one_process):.2f} s",
        paired(two_shards, one_process),
    )
