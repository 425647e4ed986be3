"""One summary of a run, rendered by every output: the terminal, JSON, Markdown and HTML.

:func:`build` turns the case and gate records into a :class:`Summary`: a verdict line, the
per-suite table, gates, decision matrices, paired comparisons and one :class:`CaseRow` per case
with its verdict (``regression``, ``drift``, ``fail``, ``xfail``, ``improvement``, ``pass``).
The renderers in :mod:`promptdrift.verdict.report` only lay it out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from promptdrift.cassettes.format import EDITED, NO_DIGEST
from promptdrift.text.worddiff import word_diff
from promptdrift.verdict import charts, paired
from promptdrift.verdict.decision import Decision, decisions, money, table_rows
from promptdrift.verdict.drift import SAME, CaseRecord, CheckDelta, quality_score, rerecord_comparisons
from promptdrift.verdict.ledger import SuiteSummary, Summaries, summarise

VERDICTS = ("regression", "drift", "fail", "xfail", "improvement", "pass")
ATTENTION = ("regression", "drift", "fail")  # what the report opens on
EDITED_NOTE = "edited by hand since it was recorded (its digest does not match)"


def case_verdict(record: CaseRecord) -> str:
    """The one word a case's row carries: the worst thing that happened to it."""
    if record.regressions:
        return "regression"
    if record.status == "drift":
        return "drift"
    if record.expected_failure:
        return "xfail"
    if not record.passed:
        return "fail"
    if record.improvements:
        return "improvement"
    return "pass"


def _plural(count: int, one: str, several: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (several or one + 's')}"


@dataclass
class CaseRow:
    """One case as the reports list it."""

    record: CaseRecord
    verdict: str

    @property
    def failed_checks(self) -> list[str]:
        return [str(c.get("check")) for c in self.record.checks if not c.get("passed")]

    @property
    def scores(self) -> list[tuple[str, float | None, float | None]]:
        """The scores worth a glance: against a baseline each one that changed (name, before, after); without
        one, each quality score (name, None, score)."""
        if self.record.deltas:
            return [
                (d.check, _score(d.before), _score(d.after))
                for d in self.record.deltas
                if _score(d.before) != _score(d.after)
            ]
        return [
            (str(c.get("check")), None, _score(c))
            for c in self.record.checks
            if _score(c) is not None and quality_score(str(c.get("check")))
        ]

    @property
    def score_text(self) -> str:
        return ", ".join(
            f"{name} {'' if old is None else f'{old:.2f} → '}{'-' if new is None else f'{new:.2f}'}"
            for name, old, new in self.scores
        )

    @property
    def shown_deltas(self) -> list[CheckDelta]:
        """Checks worth a line: every verdict but an unchanged one with an unchanged score."""
        return [d for d in self.record.deltas if d.verdict != SAME or d.score_delta not in (None, 0.0)]

    @property
    def reason(self) -> str:
        """Why the row has its verdict, in one line (the Markdown's list entry)."""
        record = self.record
        if self.verdict in ("regression", "improvement"):
            deltas = record.regressions if self.verdict == "regression" else record.improvements
            return "; ".join(f"{d.check} {d.note}" for d in deltas)
        if record.error:
            return record.error.splitlines()[0]
        failed = self.failed_checks
        return f"failed: {', '.join(failed)}" if failed else ""

    def detail(self, strings: dict[str, int]) -> dict[str, Any]:
        """What the HTML's case detail shows (kept in the page as JSON, drawn when the row is opened).

        Message texts are indexes into ``strings`` (a suite's system prompt is kept once, not once a case);
        a changed answer is kept only as its word diff, from which both sides are drawn.
        """
        record = self.record
        data: dict[str, Any] = {
            "m": [[m["role"], strings.setdefault(m["content"], len(strings))] for m in record.messages],
            "k": record.cassette,
        }
        before = None if record.baseline is None else str(record.baseline.get("answer") or "")
        if before is not None and record.answer_changed:
            data["d"] = word_diff(before, record.answer)
        else:
            data["a"] = record.answer
            if before is not None:
                data["b"] = before
        if record.deltas:
            data["c"] = [[d.check, check_cell(d.before), check_cell(d.after), d.note, d.verdict] for d in record.deltas]
        else:
            data["c"] = [
                [str(c.get("check")), "-", check_cell(c), str(c.get("reason") or ""), ""] for c in record.checks
            ]
        if record.error:
            data["e"] = record.error
        usage = usage_line(record, latency=True)
        if usage:
            data["u"] = usage
        return data


def _score(entry: Mapping[str, Any] | None) -> float | None:
    value = (entry or {}).get("score")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check_cell(entry: Mapping[str, Any] | None) -> str:
    """A check's result in a few characters: ``pass (0.92)``, ``fail``, ``-`` when there is none."""
    if not entry:
        return "-"
    mark = "pass" if entry.get("passed") else "fail"
    score = _score(entry)
    return f"{mark} ({score:.3g})" if score is not None else mark


def usage_line(record: CaseRecord, latency: bool = False) -> str:
    """Model, token, cost (and, where wanted, latency) changes; latency is left out of the Markdown so that
    a report of the same recordings is the same text."""
    old = record.baseline or {}
    parts = []
    if record.model_changed:
        parts.append(f"model {old.get('model')} -> {record.model}")
    old_tokens, new_tokens = (old.get("usage") or {}).get("total_tokens"), record.usage.get("total_tokens")
    if record.baseline is not None and old_tokens != new_tokens:
        parts.append(f"tokens {old_tokens} -> {new_tokens}")
    if record.baseline is not None and old.get("cost_usd") != record.cost_usd and record.cost_usd is not None:
        parts.append(f"cost {money(old.get('cost_usd'))} -> {money(record.cost_usd)}")
    if latency and old.get("latency_ms") is not None and record.latency_ms is not None:
        parts.append(f"latency {old['latency_ms']:.0f} ms -> {record.latency_ms:.0f} ms")
    return ", ".join(parts)


@dataclass
class Summary:
    """Everything a report shows, computed once."""

    suites: list[SuiteSummary]
    gates: list[dict[str, Any]]
    rows: list[CaseRow]
    decisions: list[Decision]
    comparisons: list[paired.Comparison]
    no_digest: int = 0
    cases_total: int = 0  # every case of the run (the rows may hold only the notable ones)
    counts: Counter[str] = field(default_factory=Counter)  # rows by verdict

    def of(self, verdict: str) -> list[CaseRow]:
        return self.by_verdict.get(verdict, [])

    @cached_property
    def by_verdict(self) -> dict[str, list[CaseRow]]:
        out: dict[str, list[CaseRow]] = {}
        for row in self.rows:
            out.setdefault(row.verdict, []).append(row)
        return out

    @property
    def failed_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if not g["passed"] and not g.get("candidate")]

    @property
    def significant(self) -> list[paired.Comparison]:
        return [c for c in self.comparisons if c.verdict.startswith("significant")]

    @property
    def edited(self) -> list[CaseRecord]:
        return [r.record for r in self.rows if r.record.cassette_state == EDITED]

    @property
    def sampled(self) -> list[CaseRow]:
        return [r for r in self.rows if r.record.samples]

    @property
    def changed(self) -> list[CaseRow]:
        """Re-recorded cases whose checks, answer or model changed (the answer diffs the reports show)."""
        return [
            r
            for r in self.rows
            if r.record.baseline is not None and (r.record.deltas or r.record.answer_changed or r.record.model_changed)
        ]

    @property
    def problems(self) -> list[str]:
        """What fails the run, counted: regressions (but those judged by their suite's paired comparison),
        drifted prompts, failing cases, failed gates, significant drops."""
        counted = [
            (sum(not r.record.expected_failure for r in self.of("regression")), "regression"),
            (self.counts["drift"], "drifted prompt"),
            (self.counts["fail"], "failing case"),
            (len(self.failed_gates), "failed gate"),
            (sum(c.verdict == "significant drop" for c in self.comparisons), "significant drop"),
        ]
        return [_plural(count, what) for count, what in counted if count]

    @property
    def fails(self) -> bool:
        return bool(self.problems)

    @property
    def verdict(self) -> str:
        """The report's first line: passes or fails, and why, in one sentence."""
        scope = f"{_plural(self.cases_total, 'case')} in {_plural(len(self.suites), 'suite')}"
        if self.problems:
            return f"Fails: {', '.join(self.problems)} — {scope}"
        good = [_plural(self.counts["improvement"], "improvement")] if self.counts["improvement"] else []
        judged = sum(r.record.expected_failure for r in self.of("regression"))
        if judged:
            good.append(f"{_plural(judged, 'regressed case')} within their suite's noise")
        if self.counts["xfail"]:
            good.append(f"{self.counts['xfail']:,} expected to fail")
        return f"Passes: {scope}" + (f", {', '.join(good)}" if good else "") + (", no regression" if not judged else "")

    def forest_rows(self) -> list[charts.ForestRow]:
        """The paired chart: every re-recording comparison, then every variant against its reference."""
        out = [_forest_row(f"{c.suite}: {c.before} → {c.after}", c) for c in self.comparisons]
        for decision in self.decisions:
            for variant, c in decision.versus.items():
                out.append(_forest_row(f"{decision.suite}: {variant} vs {decision.reference}", c))
        return out

    def paired_chart(self) -> str:
        rows = self.forest_rows()
        return charts.forest(rows) if rows else ""

    def decision_charts(self, decision: Decision) -> list[str]:
        """Pass rate, cost and latency per variant of one decision matrix."""
        rows = decision.rows
        out = [
            charts.bars(
                [(r.variant, r.pass_rate, f"{r.pass_rate:.0%}") for r in rows], "pass-rate", "pass rate per variant"
            )
        ]
        if any(r.cost_usd for r in rows):
            out.append(charts.bars([(r.variant, r.cost_usd, money(r.cost_usd)) for r in rows], "cost", "cost"))
        if any(r.latency_ms is not None for r in rows):
            out.append(
                charts.bars(
                    [
                        (r.variant, r.latency_ms, "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms")
                        for r in rows
                    ],
                    "latency",
                    "mean latency",
                )
            )
        return out

    def decision_tables(self) -> list[tuple[Decision, list[str], list[list[str]]]]:
        return [(d, *table_rows(d)) for d in self.decisions]

    def to_dict(self, version: int) -> dict[str, Any]:
        """The JSON report: the summary per suite, every case with its verdict and deltas, gates, decisions."""
        cases = []
        for row in self.rows:
            data = row.record.to_dict()
            data["verdict"] = row.verdict
            cases.append(data)
        return {
            "version": version,
            "verdict": self.verdict,
            "counts": {v: self.counts[v] for v in VERDICTS},
            "suites": [s.__dict__ for s in self.suites],
            "cases": cases,
            "gates": self.gates,
            "decisions": [d.to_dict() for d in self.decisions],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "cassettes": {
                "edited": [r.cassette or r.nodeid for r in self.edited],
                "no_digest": self.no_digest,
            },
        }


def _forest_row(label: str, c: paired.Comparison) -> charts.ForestRow:
    drop = None if c.detectable is None else min(c.detectable, 1.0) * 100
    return charts.ForestRow(label, c.rate.diff * 100, c.rate.low * 100, c.rate.high * 100, drop, c.verdict)


def build(
    cases: Sequence[CaseRecord],
    gates: Iterable[Mapping[str, Any]],
    summaries: Summaries | None = None,
    no_digest: int | None = None,
) -> Summary:
    """The summary of ``cases`` and ``gates``; ``summaries`` (counted over every case, when the run kept only the
    notable records) gives the per-suite table, ``no_digest`` the count of cassettes without a digest."""
    held = [dict(g) for g in gates]
    suites = summaries.table(held) if summaries is not None else summarise(cases, held)
    rows = [CaseRow(record, case_verdict(record)) for record in cases]
    summary = Summary(
        suites=suites,
        gates=held,
        rows=rows,
        decisions=decisions(cases, held),
        comparisons=rerecord_comparisons(cases),
        no_digest=sum(r.cassette_state == NO_DIGEST for r in cases) if no_digest is None else no_digest,
        cases_total=sum(s.cases for s in suites),
    )
    summary.counts.update(row.verdict for row in rows)
    return summary
