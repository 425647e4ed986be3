"""Reproducer for an upstream report: Hypothesis's pytest plugin imports Hypothesis at the end of every run.

    python benchmarks/hypothesis_summary.py            # 5 runs of each, medians

A project with one trivial test and no Hypothesis in it, run with promptdrift
disabled: plain ``pytest`` against ``pytest -p no:hypothesispytest``, with and
without ``PYTHONDONTWRITEBYTECODE=1``. It also says whether ``hypothesis`` was
in ``sys.modules`` when the run ended. The report to file is
``benchmarks/upstream/hypothesis-terminal-summary.md``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, pytest
code = pytest.main(sys.argv[1:])
print("HYPOTHESIS-IMPORTED", "hypothesis" in sys.modules)
sys.exit(code)
"""


def once(project: Path, args: list[str], env: dict[str, str]) -> tuple[float, bool]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "-q", "-p", "no:cacheprovider", "-p", "no:promptdrift", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(proc.stdout + proc.stderr)
    return seconds, "HYPOTHESIS-IMPORTED True" in proc.stdout


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    project = Path(tempfile.mkdtemp(prefix="hypothesis-summary-"))
    (project / "test_one.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print(
        "| setting | plain pytest | -p no:hypothesispytest | difference | hypothesis imported |\n|---|---|---|---|---|"
    )
    for label, extra in (("bytecode", {}), ("PYTHONDONTWRITEBYTECODE=1", {"PYTHONDONTWRITEBYTECODE": "1"})):
        env = {**base, **extra}
        once(project, [], env)  # warm-up: caches on disk where they may be written
        plain, without, imported = [], [], set()
        for _ in range(runs):  # in turn, so both see the same machine
            seconds, was = once(project, [], env)
            plain.append(seconds)
            imported.add(was)
            without.append(once(project, ["-p", "no:hypothesispytest"], env)[0])
        a, b = statistics.median(plain), statistics.median(without)
        print(f"| {label} | {a:.2f} s | {b:.2f} s | {a - b:+.2f} s | {sorted(imported)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
