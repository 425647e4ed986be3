"""Drift reports: the terminal summary and ``--prompt-report`` as Markdown, HTML or JSON.

Every output renders one :class:`~promptdrift.verdict.summary.Summary`; the HTML and the Markdown
come from the package's templates (``verdict/templates/report.html.j2`` and ``report.md.j2``), so
the markup of each format is in one file. The Markdown is made for a pull-request comment: it never
exceeds :data:`MARKDOWN_LIMIT` characters, however many cases the run had.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from promptdrift.cassettes.format import EDITED, NO_DIGEST
from promptdrift.core.modes import RecordMode, record_command
from promptdrift.verdict import paired
from promptdrift.verdict.decision import money
from promptdrift.verdict.drift import REGRESSION, CaseRecord
from promptdrift.verdict.ledger import Records
from promptdrift.verdict.summary import ATTENTION, EDITED_NOTE, VERDICTS, Summary, build, check_cell, usage_line

REPORT_VERSION = 2


MARKDOWN_LIMIT = 65_536 - 1_024  # characters: one GitHub comment (65,536), less room for the action's links
LISTED = (50, 20, 10, 5, 2)  # entries per Markdown list, tried in turn until the report fits
DIFFED = 10  # answer diffs in the Markdown, at most
DIFF_LINES, DIFF_LINE_CHARS = 200, 400  # a report shows an excerpt of a huge answer's diff
LINE_CHARS = 300  # a Markdown list entry's reason, at most
LISTS = (("regression", "Regressions"), ("drift", "Drifted prompts"), ("fail", "Failing cases"))
TEMPLATES = Path(__file__).parent / "templates"


def notable(record: CaseRecord) -> bool:
    """What the terminal lists case by case: drift against a baseline, variants, samples, edited cassettes."""
    return bool(record.deltas or record.variant or record.samples or record.cassette_state == EDITED)


def no_digest_line(count: int) -> list[str]:
    """Said once per run: how many replayed cassettes were written before promptdrift kept a digest."""
    if not count:
        return []
    return [f"{count} cassette(s) have no digest (written before promptdrift kept one); re-recording adds it"]


# -- the terminal ---------------------------------------------------------------------------------------------


def summarize(records: Records) -> Summary:
    """The summary of a run's records: the per-suite table counted over every case, whichever were kept."""
    return build(records.cases, records.gates, records.summaries, records.cassette_states[NO_DIGEST])


def summary_lines(s: Summary) -> list[str]:
    """The terminal's account of a summary: the per-suite table, regressions, edited cassettes, comparisons
    (one line each when nothing moved), samples, decisions."""
    lines = [
        f"EDITED     {r.cassette or r.nodeid}: {EDITED_NOTE}; re-record it (--prompt-strict-cassettes fails it)"
        for r in s.edited
    ] + no_digest_line(s.no_digest)
    if not s.suites:
        return lines
    width = max(28, *(len(x.suite) for x in s.suites))
    table = [
        f"{'suite':<{width}} {'cases':>5} {'passed':>6} {'failed':>6} {'drifted':>7} {'regressions':>11} {'cost':>9}"
    ]
    for x in s.suites:
        table.append(
            f"{x.suite:<{width}} {x.cases:>5} {x.passed:>6} {x.failed:>6} {x.drifted:>7} {x.regressions:>11} "
            f"{money(x.cost_usd):>9}"
        )
    for row in s.rows:
        for delta in row.record.regressions:
            table.append(f"REGRESSION {row.record.nodeid}: {delta.check} {delta.note}")
        for delta in row.record.improvements:
            table.append(f"improved   {row.record.nodeid}: {delta.check} {delta.note}")
    lines = table + lines
    for comparison in s.comparisons:
        lines += comparison.lines()
    for row in s.sampled:
        kind = "generated" if row.record.generated else "sampled"
        lines.append(f"{kind:<10} {row.record.nodeid}: {_sampled(row.record)}")
    for decision, head, body in s.decision_tables():
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        lines.append(f"decision matrix: {decision.suite}")
        for cells in [head, *body]:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        lines.append(f"  {decision.verdict}")
    return lines


def _sampled(record: CaseRecord) -> str:
    """``4/5 passed, rate 0.8, Wilson bound 0.38; needs 0.8`` for a sampled case."""
    if record.generated:
        return f"{record.passes}/{record.samples} generated examples passed"
    text = f"{record.passes}/{record.samples} passed, rate {record.pass_rate or 0:.2f}"
    if record.pass_bound is not None:
        text += f", Wilson bound {record.pass_bound:.2f}"
    return text + f"; needs {record.required_rate if record.required_rate is not None else 1:g}"


# -- what the templates are given -----------------------------------------------------------------------------


def _answer_diff(record: CaseRecord, most: int = DIFF_LINES) -> str:
    old = (record.baseline or {}).get("answer") or ""
    lines = [
        line if len(line) <= DIFF_LINE_CHARS else line[:DIFF_LINE_CHARS] + f"… ({len(line) - DIFF_LINE_CHARS:,} more)"
        for line in difflib.unified_diff(
            old.splitlines(), (record.answer or "").splitlines(), "old answer", "new answer", lineterm=""
        )
    ]
    if len(lines) > most:
        lines = [*lines[:most], f"… ({len(lines) - most:,} more diff lines)"]
    return "\n".join(lines).replace("```", "` ` `")


def _interval(interval: paired.Interval, scale: float) -> str:
    unit = " pts" if scale == 100 else ""
    digits = 1 if scale == 100 else 3
    return (
        f"{interval.diff * scale:+.{digits}f}{unit} "
        f"[{interval.low * scale:+.{digits}f}, {interval.high * scale:+.{digits}f}] ({interval.method})"
    )


def _p(value: float) -> str:
    return "-" if value != value else f"{value:.3g}"


def _drop(value: float | None) -> str:
    if value is None:
        return "-"
    return "over 100 pts" if value >= 1 else f"{value * 100:.0f} pts"


def _md_cell(value: Any) -> str:
    """Text safe in one Markdown table cell: no pipe, no line break, at most :data:`LINE_CHARS`."""
    return _line(str(value)).replace("|", "\\|")


def _line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


def _more(items: Sequence[Any], shown: int, noun: str = "") -> str:
    extra = len(items) - shown
    return f"\n+{extra:,} more{' ' + noun if noun else ''} in the full report\n" if extra > 0 else ""


def _case_checks(row: Any) -> str:
    """The checks a row's check filter matches: those that failed, regressed or improved."""
    names = {*row.failed_checks, *(d.check for d in row.record.regressions + row.record.improvements)}
    return " ".join(sorted(n.replace(" ", "_") for n in names))


@cache
def _environment(kind: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=kind == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        money=money,
        num=lambda v: "-" if v is None else f"{v:.3g}",
        interval=_interval,
        p=_p,
        drop=_drop,
        sampled=_sampled,
        usage=usage_line,
        check_cell=check_cell,
        cell=_md_cell,
        line=_line,
        tick=lambda text: str(text).replace("`", "'"),
        answer_diff=_answer_diff,
        checks=_case_checks,
        ms=lambda v: "-" if v is None else f"{v:.0f} ms",
    )
    env.globals.update(more=_more)
    return env


def _context(s: Summary) -> dict[str, Any]:
    return {
        "s": s,
        "gates": sorted(s.gates, key=lambda g: (bool(g["passed"]), bool(g.get("candidate")))),  # failed gates first
        "decision_tables": s.decision_tables(),
        "edited_note": EDITED_NOTE,
        "no_digest": no_digest_line(s.no_digest),
        "verdicts": VERDICTS,
        "lists": LISTS,
    }


# -- the formats ----------------------------------------------------------------------------------------------


def markdown(s: Summary, limit: int = MARKDOWN_LIMIT) -> str:
    """The summary as GitHub-flavoured Markdown of at most ``limit`` characters: lists are shortened (50
    entries each, then fewer) until it fits, and a report that still does not is cut with a note."""
    template = _environment("md").get_template("report.md.j2")
    context = _context(s)
    text = ""
    for many in LISTED:
        text = template.render(context, many=many, diffs=min(many, DIFFED), diff_lines=DIFF_LINES if many > 5 else 20)
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        if len(text) <= limit:
            return text
    note = "\n\n… cut to fit a pull-request comment: the whole report is in the HTML and JSON reports.\n"
    return text[: limit - len(note)] + note


def html(s: Summary) -> str:
    """The summary as one self-contained HTML page: inline CSS and JavaScript, SVG charts, nothing fetched."""
    rows = sorted(s.rows, key=lambda r: (VERDICTS.index(r.verdict), r.record.nodeid))
    strings: dict[str, int] = {}
    details = [r.detail(strings) for r in rows]
    command = record_command("{case}", RecordMode.ALL)  # how one case is re-recorded; the page fills in its id
    page_data = {"cases": details, "strings": list(strings), "rerecord": command}
    data = json.dumps(page_data, ensure_ascii=False, separators=(",", ":"), default=str)
    checks = sorted({name for r in rows for name in _case_checks(r).split()})
    return (
        _environment("html")
        .get_template("report.html.j2")
        .render(
            _context(s),
            rows=rows,
            data=data.replace("<", "\\u003c"),  # nothing in the data can close the script element
            attention=sum(s.counts[v] for v in ATTENTION),
            suite_names=[x.suite for x in s.suites],
            variants=sorted({r.record.variant for r in rows if r.record.variant}),
            check_names=checks,
            css=_asset("report.css"),
            js=_asset("report.js"),
        )
    )


@cache
def _asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def json_report(s: Summary) -> str:
    return json.dumps(s.to_dict(REPORT_VERSION), indent=2, ensure_ascii=False, default=str) + "\n"


def render_markdown(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> str:
    """The drift report as GitHub-flavoured Markdown (also written to the step summary)."""
    return markdown(build(cases, gates))


def render_html(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> str:
    return html(build(cases, gates))


def render_json(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> str:
    """The report as JSON: the verdict, summary per suite, every case with its verdict and deltas, every gate."""
    return json_report(build(cases, gates))


RENDERERS = {".md": markdown, ".markdown": markdown, ".html": html, ".htm": html, ".json": json_report}


def write_reports(paths: Sequence[str], s: Summary) -> list[Path]:
    """Write each ``--prompt-report`` path, and the Markdown to ``$GITHUB_STEP_SUMMARY`` when it is set."""
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    written = []
    for name in paths:
        path = Path(name)
        render = RENDERERS[path.suffix.lower()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(s), encoding="utf-8")
        written.append(path)
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(markdown(s))
    return written


def has_regressions(cases: Iterable[CaseRecord]) -> bool:
    return any(d.verdict == REGRESSION for r in cases for d in r.deltas)


# A case record's status, as the summary's header counts it: (one, several).
STATUS_WORDS = {
    "replayed": ("replayed", "replayed"),
    "recorded": ("recorded", "recorded"),
    "drift": ("drifted prompt", "drifted prompts"),
    "missing": ("missing recording", "missing recordings"),
    "rejected": ("request the endpoint rejected", "requests the endpoint rejected"),
    "error": ("other error", "other errors"),
}


def _counted(count: int, one: str, several: str) -> str:
    return f"{count} {one if count == 1 else several}"


def run_summary(records: Records, summary: Summary, record_mode: str, *, extra: Sequence[str] = ()) -> list[str]:
    """The end-of-run summary: a header line, then the table, regressions, comparisons and decisions.

    One function for the plugin's terminal summary and ``promptdrift merge``, so a sharded run reads the
    same as one process. Empty when no case or gate ran.
    """
    counts = records.counts
    if not counts and not records.gates:
        return []
    parts = [_counted(counts[k], *STATUS_WORDS[k]) for k in STATUS_WORDS if counts[k]]
    header = f"promptdrift ({record_mode}): " + ", ".join([*parts, *extra])
    lines = summary_lines(summary)
    for gate in records.gates:
        if gate.get("settled"):
            verdict = "passed" if gate["passed"] else f"FAILED: {gate['reason']}"
            lines.append(f"gate       {gate['suite']}::gate[{gate['gate']}] {verdict} (from every case's record)")
    return [header, *lines]
