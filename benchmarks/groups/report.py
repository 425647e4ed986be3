"""The reviewer's report: a re-recording of 2,000 and of 10,000 cases against a new model (one case in 20
regresses, every other answer is reworded), its HTML's size and load time in headless Chromium, the time to
write the reports against the run's own wall time, and the Markdown's length."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import NEW_MODEL, REGRESS_EVERY, Bench, run_pytest, write_project

# A child process that reads the run's records and writes the three reports, as the end of a run does.
WRITE_REPORTS = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from promptdrift.verdict.ledger import read_records
from promptdrift.verdict.report import summarize, write_reports
records = read_records(sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()))  # the run's shard-1-of-1
write_reports([str(Path(sys.argv[2]) / f"again.{kind}") for kind in ("md", "html", "json")], summarize(records))
print(len(records.cases), time.perf_counter() - start)
"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def run(bench: Bench) -> None:
    for size, key in ((2000, "report-html-2k"), (10000, "report-html-10k")):
        cases = bench.scaled(size, 100)
        root = bench.work / f"report-{cases}"
        write_project(root, cases)
        print(f"  recording {cases} cases, then re-recording them against {NEW_MODEL}…", flush=True)
        run_pytest(["--prompt-record=all", "--prompt-concurrency=16"], root, bench.recording)
        records, out = root / "records", root / "out"
        reports = [f"--prompt-report={out / name}" for name in ("report.md", "report.html", "report.json")]
        again = run_pytest(
            [
                "--prompt-record=all",
                f"--prompt-model={NEW_MODEL}",
                "--prompt-concurrency=16",
                f"--prompt-records-dir={records}",
                *reports,
                "--tb=no",  # the failures' tracebacks are not the report: a shorter run, a stricter target
            ],
            root,
            bench.recording,
            expect_failure=True,
        )
        regressions = len(range(0, cases, REGRESS_EVERY))
        page = out / "report.html"
        size_mb = page.stat().st_size / 1e6
        limit_mb = 4.0 if size == 2000 else 10.0
        bench.judge(
            key,
            f"HTML report of a re-recording of {cases} cases ({regressions} regressions)",
            f"{size_mb:.2f} MB (target {limit_mb:g} MB)",
            size_mb / limit_mb,
        )
        writes = []
        for _ in range(bench.opts.runs):
            done = subprocess.run(
                [sys.executable, "-c", WRITE_REPORTS, str(records), str(out)],
                cwd=root,
                env=bench.env,
                capture_output=True,
                text=True,
                check=True,
            )
            count, seconds = done.stdout.split()
            if int(count) != cases:
                sys.exit(f"the reports were written from {count} case records, not {cases}")
            writes.append(float(seconds))
        write = statistics.median(writes)
        print(f"  {cases} cases: run {again.seconds:.2f} s, writing the reports {write:.2f} s (median)", flush=True)
        bench.judge(
            "report-write",
            f"writing the reports of {cases} cases vs the re-recording run",
            f"{write:.2f} s vs {again.seconds:.2f} s",
            write / again.seconds,
        )
        text = (out / "report.md").read_text(encoding="utf-8")
        bench.judge(
            "report-markdown",
            f"Markdown report of {cases} cases ({regressions} regressions)",
            f"{len(text):,} characters",
            len(text) / 65_536,
        )
        if size == 10000:
            _load(bench, page, cases, regressions)


def _load(bench: Bench, page: Path, cases: int, regressions: int) -> None:
    """Load times in headless Chromium (Playwright driving Debian's chromium) beside the page without script."""
    if CHROMIUM is None:
        bench.note(f"HTML report of {cases} cases in headless Chromium", "chromium is not installed: not measured")
        return
    from playwright.sync_api import sync_playwright

    bare = page.with_name("bare.html")
    text = page.read_text(encoding="utf-8")
    bare.write_text(text[: text.rindex("<script>")] + "</body></html>\n", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])

        def load(path: Path, ready: str) -> float:
            tab = browser.new_page()
            start = time.perf_counter()
            tab.goto(path.as_uri())
            tab.wait_for_function(ready, timeout=60_000)
            seconds = time.perf_counter() - start
            if path == page:  # the page works: the regression filter shows exactly the regressions
                tab.select_option('select[data-filter="verdict"]', "regression")
                shown = int(tab.inner_text("[data-visible-count]"))
                if shown != regressions:
                    sys.exit(f"the regression filter shows {shown} cases, not {regressions}")
            tab.close()
            return seconds

        loads = [load(page, "document.body.dataset.ready === '1'") for _ in range(bench.opts.runs)]
        floors = [load(bare, "document.readyState === 'complete'") for _ in range(bench.opts.runs)]
        browser.close()
    loaded, floor = statistics.median(loads), statistics.median(floors)
    print(f"  load {cases} cases: {loaded:.2f} s (without its script {floor:.2f} s)", flush=True)
    bench.floor(f"the HTML report of {cases} cases without its script, in headless Chromium", f"{floor:.2f} s")
    bench.judge(
        "report-load",
        f"HTML report of {cases} cases in headless Chromium until usable",
        f"{loaded:.2f} s (target 3 s); without its script {floor:.2f} s: it lays out all {cases} rows, where the "
        f"script first shows the {regressions} that need attention",
        loaded / 3.0,
    )
