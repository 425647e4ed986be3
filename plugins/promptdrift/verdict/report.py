"""Drift reports: the terminal summary and ``--prompt-report`` as Markdown, HTML or JSON.

Records of cases and gates are appended as JSON lines to files in one folder,
one file per process: a plain run and every pytest-xdist worker write there,
and the controlling process reads them all at the end. One mechanism serves
both, and nothing is held in memory longer than the run needs.
"""

from __future__ import annotations

import difflib
import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptdrift.cassettes.format import EDITED, NO_DIGEST
from promptdrift.verdict import paired
from promptdrift.verdict.decision import decisions, money, table_rows
from promptdrift.verdict.drift import REGRESSION, SAME, CaseRecord, CheckDelta, rerecord_comparisons
from promptdrift.verdict.ledger import Records, Summaries, summarise

REPORT_VERSION = 1


def _cost(value: float | None) -> str:
    return money(value)


def notable(record: CaseRecord) -> bool:
    """What the terminal lists case by case: drift against a baseline, variants, samples, edited cassettes."""
    return bool(record.deltas or record.variant or record.samples or record.cassette_state == EDITED)


EDITED_NOTE = "edited by hand since it was recorded (its digest does not match)"


def edited_cassettes(cases: Iterable[CaseRecord]) -> list[CaseRecord]:
    return [r for r in cases if r.cassette_state == EDITED]


def no_digest_line(count: int) -> list[str]:
    """Said once per run: how many replayed cassettes were written before promptdrift kept a digest."""
    if not count:
        return []
    return [f"{count} cassette(s) have no digest (written before promptdrift kept one); re-recording adds it"]


def cassette_lines(cases: Sequence[CaseRecord], no_digest: int | None = None) -> list[str]:
    """Cassettes edited by hand (each named, with what to do) and, once, how many have no digest."""
    lines = [
        f"EDITED     {r.cassette or r.nodeid}: {EDITED_NOTE}; re-record it (--prompt-strict-cassettes fails it)"
        for r in edited_cassettes(cases)
    ]
    count = sum(r.cassette_state == NO_DIGEST for r in cases) if no_digest is None else no_digest
    return lines + no_digest_line(count)


def terminal_lines(
    cases: Sequence[CaseRecord],
    gates: Sequence[Mapping[str, Any]],
    summaries: Summaries | None = None,
    no_digest: int | None = None,
) -> list[str]:
    """The per-suite table (over ``summaries`` when given, else ``cases``), regressions, edited cassettes,
    samples, decisions."""
    table = summaries.table(gates) if summaries is not None else summarise(cases, gates)
    if not table:
        return cassette_lines(cases, no_digest)
    width = max(28, *(len(s.suite) for s in table))
    header = (
        f"{'suite':<{width}} {'cases':>5} {'passed':>6} {'failed':>6} {'drifted':>7} {'regressions':>11} {'cost':>9}"
    )
    lines = [header]
    for s in table:
        lines.append(
            f"{s.suite:<{width}} {s.cases:>5} {s.passed:>6} {s.failed:>6} {s.drifted:>7} {s.regressions:>11} {_cost(s.cost_usd):>9}"
        )
    for record in cases:
        for delta in record.regressions:
            lines.append(f"REGRESSION {record.nodeid}: {delta.check} {delta.note}")
        for delta in record.improvements:
            lines.append(f"improved   {record.nodeid}: {delta.check} {delta.note}")
    lines += cassette_lines(cases, no_digest)
    comparisons = rerecord_comparisons(cases)
    for comparison in comparisons:
        lines += comparison.lines()
    for record in cases:
        if record.samples:
            kind = "generated" if record.generated else "sampled"
            lines.append(f"{kind:<10} {record.nodeid}: {_sampled(record)}")
    for decision in decisions(cases, gates):
        head, body = table_rows(decision)
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines.append(f"decision matrix: {decision.suite}")
        for row in [head, *body]:
            lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
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


DIFF_LINES, DIFF_LINE_CHARS = 200, 400  # a report shows an excerpt of a huge answer's diff


def _answer_diff(record: CaseRecord) -> str:
    old = (record.baseline or {}).get("answer") or ""
    lines = [
        line if len(line) <= DIFF_LINE_CHARS else line[:DIFF_LINE_CHARS] + f"… ({len(line) - DIFF_LINE_CHARS:,} more)"
        for line in difflib.unified_diff(
            old.splitlines(), (record.answer or "").splitlines(), "old answer", "new answer", lineterm=""
        )
    ]
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… ({len(lines) - DIFF_LINES:,} more diff lines)"]
    return "\n".join(lines) + "\n"


def _changed(records: Iterable[CaseRecord]) -> list[CaseRecord]:
    return [r for r in records if r.baseline is not None and (r.deltas or r.answer_changed or r.model_changed)]


def _shown_deltas(record: CaseRecord) -> list[CheckDelta]:
    """Checks worth a row: every verdict but an unchanged one with an unchanged score."""
    return [d for d in record.deltas if d.verdict != SAME or d.score_delta not in (None, 0.0)]


def _usage_line(record: CaseRecord, latency: bool = False) -> str:
    """Model, token, cost (and, where wanted, latency) changes; latency is left out of the
    Markdown so that a report of the same recordings is the same text."""
    old = record.baseline or {}
    parts = []
    if record.model_changed:
        parts.append(f"model {old.get('model')} -> {record.model}")
    old_tokens, new_tokens = (old.get("usage") or {}).get("total_tokens"), record.usage.get("total_tokens")
    if old_tokens != new_tokens:
        parts.append(f"tokens {old_tokens} -> {new_tokens}")
    if old.get("cost_usd") != record.cost_usd and record.cost_usd is not None:
        parts.append(f"cost {_cost(old.get('cost_usd'))} -> {_cost(record.cost_usd)}")
    if latency and old.get("latency_ms") is not None and record.latency_ms is not None:
        parts.append(f"latency {old['latency_ms']:.0f} ms -> {record.latency_ms:.0f} ms")
    return ", ".join(parts)


def render_markdown(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> str:
    """The drift report as GitHub-flavoured Markdown (also written to the step summary)."""
    out = [
        "# promptdrift report",
        "",
        "| suite | cases | passed | failed | drifted | regressions | improvements | cost |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summarise(cases, gates):
        out.append(
            f"| {s.suite} | {s.cases} | {s.passed} | {s.failed} | {s.drifted} | {s.regressions} | {s.improvements} | {_cost(s.cost_usd)} |"
        )
    if gates:
        out += ["", "## Gates", "", "| suite | gate | value | verdict |", "| --- | --- | ---: | --- |"]
        for g in gates:
            value = "-" if g.get("value") is None else f"{g['value']:.3g}"
            verdict = "pass" if g["passed"] else f"**FAIL** {g.get('reason', '')}"
            out.append(f"| {g['suite']} | {g['gate']} | {value} | {verdict} |")
    for decision in decisions(cases, gates):
        header, body = table_rows(decision)
        out += ["", f"## Decision matrix: {decision.suite}", "", "| " + " | ".join(header) + " |"]
        out.append("| " + " | ".join("---" for _ in header) + " |")
        out += ["| " + " | ".join(row) + " |" for row in body]
        out += ["", f"**{decision.verdict}**"]
    sampled = [r for r in cases if r.samples]
    if sampled:
        out += ["", "## Sampled cases", "", "| case | samples | verdict |", "| --- | --- | --- |"]
        out += [f"| `{r.nodeid}` | {_sampled(r)} | {'pass' if r.passed else '**FAIL**'} |" for r in sampled]
    changed = _changed(cases)
    if changed:
        out += ["", "## Changes against the previous recording", ""]
        for record in changed:
            flag = " — **regression**" if record.regressions else ""
            out += [f"### `{record.nodeid}`{flag}", ""]
            usage = _usage_line(record)
            if usage:
                out += [usage, ""]
            shown = _shown_deltas(record)
            if shown:
                out += ["| check | verdict | before | after | note |", "| --- | --- | --- | --- | --- |"]
                for d in shown:
                    out.append(f"| {d.check} | {d.verdict} | {_cell(d.before)} | {_cell(d.after)} | {d.note} |")
                out.append("")
            if record.answer_changed:
                out += ["```diff", _answer_diff(record).rstrip("\n"), "```", ""]
    comparisons = rerecord_comparisons(cases)
    if comparisons:
        out += [
            "",
            "## Paired comparison with the baseline",
            "",
            "| suite | cases | pass rate | difference (CI) | McNemar p | verdict | detectable drop |",
            "| --- | ---: | --- | --- | ---: | --- | ---: |",
        ]
        for c in comparisons:
            out.append(
                f"| {c.suite} | {c.n} | {c.rate_before:.1%} → {c.rate_after:.1%} | {_interval_cell(c.rate, 100)} "
                f"| {_p_cell(c.mcnemar_p)} | {c.verdict} | {_drop_cell(c.detectable)} |"
            )
        for c in comparisons:
            out += ["", f"**{c.suite}**: {c.power_note()}."]
            for score in c.scores:
                out.append(
                    f"- mean {score.check}: {score.mean_before:.3f} → {score.mean_after:.3f}, "
                    f"{_interval_cell(score.interval, 1)}"
                )
            if c.flipped_down or c.flipped_up:
                out.append(
                    f"- flipped: pass→fail {', '.join(c.flipped_down) or '-'}; fail→pass {', '.join(c.flipped_up) or '-'}"
                )
    edited = edited_cassettes(cases)
    if edited:
        out += ["", "## Cassettes edited by hand", ""]
        out += [f"- `{r.cassette or r.nodeid}` (`{r.nodeid}`): {EDITED_NOTE}" for r in edited]
    missing = no_digest_line(sum(r.cassette_state == NO_DIGEST for r in cases))
    if missing:
        out += ["", *missing]
    failures = [r for r in cases if r.error]
    if failures:
        out += ["", "## Errors", ""] + [f"- `{r.nodeid}`: {r.error.splitlines()[0]}" for r in failures]
    return "\n".join(out).rstrip() + "\n"


def _interval_cell(interval: paired.Interval, scale: float) -> str:
    unit = " pts" if scale == 100 else ""
    return (
        f"{interval.diff * scale:+.{1 if scale == 100 else 3}f}{unit} "
        f"[{interval.low * scale:+.{1 if scale == 100 else 3}f}, {interval.high * scale:+.{1 if scale == 100 else 3}f}] "
        f"({interval.method})"
    )


def _p_cell(value: float) -> str:
    return "-" if value != value else f"{value:.3g}"  # NaN: no statistics library


def _drop_cell(value: float | None) -> str:
    if value is None:
        return "-"
    return "over 100 pts" if value >= 1 else f"{value * 100:.0f} pts"


def _cell(entry: Mapping[str, Any] | None) -> str:
    if not entry:
        return "-"
    mark = "pass" if entry.get("passed") else "fail"
    score = entry.get("score")
    return f"{mark} ({score:.3g})" if isinstance(score, int | float) else mark


def render_json(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> str:
    """The report as JSON: summary per suite, every case with its deltas, every gate."""
    data = {
        "version": REPORT_VERSION,
        "suites": [s.__dict__ for s in summarise(cases, gates)],
        "cases": [r.to_dict() for r in cases],
        "gates": list(gates),
        "decisions": [d.to_dict() for d in decisions(cases, gates)],
        "comparisons": [c.to_dict() for c in rerecord_comparisons(cases)],
        "cassettes": {
            "edited": [r.cassette or r.nodeid for r in edited_cassettes(cases)],
            "no_digest": sum(r.cassette_state == NO_DIGEST for r in cases),
        },
    }
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
th{background:#f6f8fa}tr.regression td{background:#ffebe9}tr.improvement td{background:#dafbe1}
pre{background:#f6f8fa;padding:8px;overflow:auto}.add{color:#1a7f37}.del{color:#cf222e}
"""


def render_html(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> str:
    """The report as one self-contained HTML page (inline CSS, no scripts, nothing fetched)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(s.suite)}</td><td>{s.cases}</td><td>{s.passed}</td><td>{s.failed}</td>"
        f"<td>{s.drifted}</td><td>{s.regressions}</td><td>{s.improvements}</td><td>{_cost(s.cost_usd)}</td></tr>"
        for s in summarise(cases, gates)
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>promptdrift report</title>",
        f"<style>{_CSS}</style></head><body><h1>promptdrift report</h1>",
        "<table id='summary'><tr><th>suite</th><th>cases</th><th>passed</th><th>failed</th><th>drifted</th>"
        f"<th>regressions</th><th>improvements</th><th>cost</th></tr>{rows}</table>",
    ]
    if gates:
        parts.append(
            "<h2>Gates</h2><table id='gates'><tr><th>suite</th><th>gate</th><th>value</th><th>verdict</th></tr>"
        )
        for g in gates:
            value = "-" if g.get("value") is None else f"{g['value']:.3g}"
            verdict = "pass" if g["passed"] else "FAIL " + str(g.get("reason", ""))
            parts.append(
                f"<tr><td>{e(g['suite'])}</td><td>{e(g['gate'])}</td><td>{value}</td><td>{e(verdict)}</td></tr>"
            )
        parts.append("</table>")
    for decision in decisions(cases, gates):
        header, body = table_rows(decision)
        parts.append(f"<h2>Decision matrix: {e(decision.suite)}</h2><table class='decision'>")
        parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        for row in body:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        parts.append(f"</table><p class='verdict'><strong>{e(decision.verdict)}</strong></p>")
    sampled = [r for r in cases if r.samples]
    if sampled:
        parts.append("<h2>Sampled cases</h2><table id='sampled'><tr><th>case</th><th>samples</th><th>verdict</th></tr>")
        for r in sampled:
            parts.append(
                f"<tr><td>{e(r.nodeid)}</td><td>{e(_sampled(r))}</td><td>{'pass' if r.passed else 'FAIL'}</td></tr>"
            )
        parts.append("</table>")
    changed = _changed(cases)
    if changed:
        parts.append("<h2>Changes against the previous recording</h2>")
        parts.append(
            "<table id='checks'><tr><th>case</th><th>check</th><th>verdict</th><th>before</th><th>after</th><th>note</th></tr>"
        )
        for record in changed:
            for d in _shown_deltas(record):
                parts.append(
                    f"<tr class='{e(d.verdict)}' data-case='{e(record.nodeid)}'><td>{e(record.nodeid)}</td><td>{e(d.check)}</td>"
                    f"<td>{e(d.verdict)}</td><td>{e(_cell(d.before))}</td><td>{e(_cell(d.after))}</td><td>{e(d.note)}</td></tr>"
                )
        parts.append("</table>")
        for record in changed:
            parts.append(f"<h3>{e(record.nodeid)}{' — regression' if record.regressions else ''}</h3>")
            usage = _usage_line(record, latency=True)
            if usage:
                parts.append(f"<p>{e(usage)}</p>")
            if record.answer_changed:
                lines = []
                for line in _answer_diff(record).splitlines():
                    cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
                    lines.append(f"<span class='{cls}'>{e(line)}</span>")
                parts.append("<pre>" + "\n".join(lines) + "</pre>")
    comparisons = rerecord_comparisons(cases)
    if comparisons:
        parts.append(
            "<h2>Paired comparison with the baseline</h2><table id='paired'><tr><th>suite</th><th>cases</th>"
            "<th>pass rate</th><th>difference (CI)</th><th>McNemar p</th><th>verdict</th><th>detectable drop</th></tr>"
        )
        for c in comparisons:
            parts.append(
                f"<tr><td>{e(c.suite)}</td><td>{c.n}</td><td>{c.rate_before:.1%} → {c.rate_after:.1%}</td>"
                f"<td>{e(_interval_cell(c.rate, 100))}</td><td>{_p_cell(c.mcnemar_p)}</td><td>{e(c.verdict)}</td>"
                f"<td>{_drop_cell(c.detectable)}</td></tr>"
            )
        parts.append("</table>")
        for c in comparisons:
            parts.append(f"<p>{e(c.suite)}: {e(c.power_note())}</p>")
    edited = edited_cassettes(cases)
    if edited:
        parts.append("<h2>Cassettes edited by hand</h2><ul id='edited'>")
        parts += [f"<li><code>{e(r.cassette or r.nodeid)}</code>: {e(EDITED_NOTE)}</li>" for r in edited]
        parts.append("</ul>")
    parts += [f"<p>{e(line)}</p>" for line in no_digest_line(sum(r.cassette_state == NO_DIGEST for r in cases))]
    parts.append("</body></html>\n")
    return "".join(parts)


RENDERERS = {
    ".md": render_markdown,
    ".markdown": render_markdown,
    ".html": render_html,
    ".htm": render_html,
    ".json": render_json,
}


def write_reports(paths: Sequence[str], cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Write each ``--prompt-report`` path, and the Markdown to ``$GITHUB_STEP_SUMMARY`` when it is set."""
    written = []
    for name in paths:
        path = Path(name)
        render = RENDERERS[path.suffix.lower()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(cases, gates), encoding="utf-8")
        written.append(path)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(render_markdown(cases, gates))
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


def run_summary(records: Records, record_mode: str, *, verbose: bool, extra: Sequence[str] = ()) -> list[str]:
    """The end-of-run summary: a header line, then the table, regressions, comparisons and decisions.

    One function for the plugin's terminal summary and ``promptdrift merge``, so a sharded run reads the
    same as one process. Empty when no case or gate ran.
    """
    counts = records.counts
    if not counts and not records.gates:
        return []
    parts = [_counted(counts[k], *STATUS_WORDS[k]) for k in STATUS_WORDS if counts[k]]
    header = f"promptdrift ({record_mode}): " + ", ".join([*parts, *extra])
    no_digest = records.cassette_states[NO_DIGEST]
    lines = terminal_lines(records.cases, records.gates, records.summaries, no_digest)
    for gate in records.gates:
        if gate.get("settled"):
            verdict = "passed" if gate["passed"] else f"FAILED: {gate['reason']}"
            lines.append(f"gate       {gate['suite']}::gate[{gate['gate']}] {verdict} (from every case's record)")
    return [header, *lines]
