"""Fixed costs, with and without byte-code caching: what promptdrift adds to a run, collection, small replays."""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from bench import BYTECODE, Bench, repeat, run_pytest, write_project


def run(bench: Bench) -> None:
    opts, work = bench.opts, bench.work
    n_large = bench.scaled(10000, 100)
    plain = work / "one-test"
    plain.mkdir(parents=True, exist_ok=True)
    (plain / "test_one.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    (plain / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
    small, large = work / "startup200", work / f"startup{n_large}"
    write_project(small, 200)
    write_project(large, n_large)
    bench.server.latency = 0.0
    run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], small, bench.recording)
    for label, extra in BYTECODE:
        run_env = {**bench.offline, **extra}
        floors(bench, run_env, label, n_large)
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
        bench.judge(
            "no-suite",
            f"promptdrift installed, a run with no suite ({label})",
            f"{added:+.0f} ms (median of {len(differences)} paired differences)",
            added / 50,
        )
        replay = repeat(f"replay 200 cases, {label}", opts.runs, lambda e=run_env: run_pytest([], small, e))
        bench.judge(
            "replay-200", f"replay 200 cases, whole process ({label})", f"{replay.median():.2f} s", replay.median()
        )
        collect = repeat(
            f"collect {n_large} cases, {label}", opts.runs, lambda e=run_env: run_pytest(["--collect-only"], large, e)
        )
        bench.judge(
            "collect",
            f"pytest --collect-only, {n_large} cases ({label})",
            f"{collect.median():.2f} s",
            collect.median(),
        )


def floors(bench: Bench, env: Mapping[str, str], label: str, n_large: int) -> None:
    """What the targets stand on: plain pytest (promptdrift disabled) with as many trivial tests, the SDK's import."""
    plain = ["-p", "no:promptdrift"]
    for n in (200, n_large):
        project = bench.work / f"trivial{n}"
        project.mkdir(parents=True, exist_ok=True)
        (project / "test_trivial.py").write_text(
            f"import pytest\n\n\n@pytest.mark.parametrize('n', range({n}))\ndef test_n(n):\n    assert n >= 0\n",
            encoding="utf-8",
        )
        (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
        fig = repeat(
            f"floor: plain pytest, {n} trivial tests, {label}",
            bench.opts.runs,
            lambda p=project: run_pytest(plain, p, env),
        )
        bench.floor(f"plain pytest, {n} trivial tests ({label})", f"{fig.median():.2f} s")
        if n == n_large:
            fig = repeat(
                f"floor: plain pytest --collect-only, {n} trivial tests, {label}",
                bench.opts.runs,
                lambda p=project: run_pytest([*plain, "--collect-only"], p, env),
            )
            bench.floor(f"plain pytest --collect-only, {n} trivial tests ({label})", f"{fig.median():.2f} s")
    fig = repeat(
        f"floor: python -c 'import openai', {label}",
        bench.opts.runs,
        lambda: run_pytest([], bench.work, env, child="import openai"),
    )
    bench.floor(f"a bare interpreter importing the openai SDK ({label})", f"{fig.median():.2f} s")
