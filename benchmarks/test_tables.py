"""The benchmark's tables, not its figures: every target has its floor and how it is measured, the JSON the
run writes makes the documentation's performance page, and the support files are never collected as tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import TARGETS, Bench, Figure  # noqa: E402
from performance_page import render  # noqa: E402


def test_every_target_says_what_it_stands_on_and_how_it_is_measured() -> None:
    for key, target in TARGETS.items():
        assert target.says and target.floor and target.how, key
        assert target.limit > 0, key


def test_the_performance_page_is_generated_from_the_figures() -> None:
    bench = Bench.__new__(Bench)
    bench.figures = []
    Bench.judge(bench, "merge", "promptdrift merge, 4 shards", "0.80 s, 33 MB", 0.4)
    Bench.judge(bench, "replay-vs-plain", "replay 1000 cases vs plain pytest", "3.1 s vs 1.2 s", 2.6)
    Bench.floor(bench, "plain pytest, 1000 trivial tests", "0.90 s")
    results = {
        "cpus": 2,
        "runs": 5,
        "scale": 1.0,
        "latency_s": 0.2,
        "figures": [{**vars(f), "verdict": f.verdict} for f in bench.figures],
    }
    page = render(results, "This release's run: a note.")
    assert "\n\nThis release's run: a note.\n\n" in page
    assert "| promptdrift merge, 4 shards | promptdrift merge ≤ 2 s and ≤ 100 MB | - |" in page
    assert "| 0.80 s, 33 MB | 0.40 x — met |" in page
    assert "2.60 x — MISSED" in page and "Missed: 1 of 2 targets." in page
    assert "| plain pytest, 1000 trivial tests | (floor: no target) |" in page
    assert Figure("w", "m").verdict == "-"


def test_run_offers_json_and_no_support_file_is_collected() -> None:
    shown = subprocess.run([sys.executable, str(HERE / "run.py"), "--help"], capture_output=True, text=True, check=True)
    assert "--json PATH" in shown.stdout
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(HERE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "benchmarks/test_tables.py::" in collected.stdout
    assert "baseline_checks" not in collected.stdout and "sdk_floor_calls" not in collected.stdout
