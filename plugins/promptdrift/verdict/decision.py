"""The decision matrix: the variants of a suite side by side, and the cheapest one that is good enough.

Per variant: the share of cases that pass, the mean of every scored check,
each gate's verdict, tokens, cost and mean latency. The rule: a variant
*qualifies* when every one of its gates passes (a suite without gates: when
every case passes); the cheapest qualifying variant is named (by cost, or by
tokens when no prices are configured). When none qualifies, the verdict says
which gate each variant misses: the evidence for "prompting is enough" or
"consider fine-tuning".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptdrift.checks import check_definition
from promptdrift.verdict import paired
from promptdrift.verdict.drift import CaseRecord, paired_outcome


@dataclass
class VariantRow:
    variant: str
    index: int = 0  # the suite's order of variants
    cases: int = 0
    passed: int = 0
    scores: dict[str, list[float]] = field(default_factory=dict)
    gates: list[Mapping[str, Any]] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float | None = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    @property
    def latency_ms(self) -> float | None:
        return sum(self.latencies) / len(self.latencies) if self.latencies else None

    def mean(self, check: str) -> float | None:
        values = self.scores.get(check)
        return sum(values) / len(values) if values else None

    @property
    def missed(self) -> list[str]:
        """The gates this variant misses (or, without gates, the failing cases as one reason)."""
        if self.gates:
            return [f"{g['gate']} ({g.get('reason') or 'failed'})" for g in self.gates if not g["passed"]]
        return [] if self.passed == self.cases else [f"{self.cases - self.passed} of {self.cases} cases fail"]


@dataclass
class Decision:
    suite: str
    rows: list[VariantRow]
    checks: list[str]
    chosen: str | None
    reference: str | None = None  # the shipped variant (or the first): every other is compared with it, paired
    versus: dict[str, paired.Comparison] = field(default_factory=dict)
    lead: paired.Comparison | None = None  # the chosen variant against the next candidate

    @property
    def verdict(self) -> str:
        if self.chosen is not None:
            row = next(r for r in self.rows if r.variant == self.chosen)
            rule = "every gate" if row.gates else "every case"
            if row.cost_usd is not None:
                said = f"cheapest variant that meets {rule}: {self.chosen} ({money(row.cost_usd)})"
            else:
                said = (
                    f"variant with the fewest tokens that meets {rule}: {self.chosen} ({row.tokens} tokens; "
                    "set [tool.promptdrift.prices] to compare cost)"
                )
            return said + self.lead_note
        misses = "; ".join(f"{r.variant} misses {', '.join(r.missed)}" for r in self.rows)
        return f"no variant meets every gate: {misses}"

    @property
    def lead_note(self) -> str:
        """Whether the chosen variant's pass rate differs from the next candidate's beyond noise."""
        c = self.lead
        if c is None:
            return ""
        gap = (
            f"{c.rate.diff * 100:+.0f} points, {1 - c.alpha:.0%} CI {c.rate.low * 100:+.0f} to {c.rate.high * 100:+.0f}"
        )
        if c.verdict == "within noise":
            return f"; its pass rate against {c.before} ({gap}) is within noise: {c.power_note()}"
        return f"; its pass rate against {c.before} ({gap}) is a {c.verdict.removeprefix('significant ')} beyond noise"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "chosen": self.chosen,
            "verdict": self.verdict,
            "reference": self.reference,
            "versus": {name: c.to_dict() for name, c in self.versus.items()},
            "lead": None if self.lead is None else self.lead.to_dict(),
            "variants": [
                {
                    "variant": r.variant,
                    "cases": r.cases,
                    "passed": r.passed,
                    "pass_rate": r.pass_rate,
                    "scores": {c: r.mean(c) for c in self.checks},
                    "gates": [{"gate": g["gate"], "passed": g["passed"], "value": g.get("value")} for g in r.gates],
                    "missed": r.missed,
                    "tokens": r.tokens,
                    "cost_usd": r.cost_usd,
                    "latency_ms": r.latency_ms,
                }
                for r in self.rows
            ],
        }


def decisions(cases: Sequence[CaseRecord], gates: Sequence[Mapping[str, Any]]) -> list[Decision]:
    """One decision per suite that ran with variants."""
    rows: dict[str, dict[str, VariantRow]] = {}
    scored: dict[str, list[str]] = {}
    by_case: dict[str, dict[str, dict[str, CaseRecord]]] = {}  # suite -> variant -> case -> record
    for record in cases:
        if record.variant is None:
            continue
        suite = record.suite.removesuffix(f"[{record.variant}]")
        by_case.setdefault(suite, {}).setdefault(record.variant, {})[record.case] = record
        row = rows.setdefault(suite, {}).setdefault(record.variant, VariantRow(record.variant, record.variant_index))
        row.cases += 1
        row.passed += record.passed
        row.tokens += int(record.usage.get("total_tokens") or 0)
        row.cost_usd = None if row.cost_usd is None or record.cost_usd is None else row.cost_usd + record.cost_usd
        if record.latency_ms is not None:
            row.latencies.append(record.latency_ms)
        for check in record.checks:
            score = check.get("score")
            if isinstance(score, int | float) and check.get("check"):
                row.scores.setdefault(check["check"], []).append(float(score))
                names = scored.setdefault(suite, [])
                if check["check"] not in names:
                    names.append(check["check"])
    for gate in gates:
        variant = gate.get("variant")
        if variant is None:
            continue
        suite = str(gate["suite"]).removesuffix(f"[{variant}]")
        rows.setdefault(suite, {}).setdefault(variant, VariantRow(variant)).gates.append(gate)
    out = []
    for suite in sorted(rows):
        table = sorted(rows[suite].values(), key=lambda r: r.index)
        qualifying = [r for r in table if not r.missed]
        chosen = None
        if qualifying:
            if all(r.cost_usd is not None for r in qualifying):
                chosen = min(qualifying, key=lambda r: (r.cost_usd or 0.0, r.tokens)).variant
            else:
                chosen = min(qualifying, key=lambda r: r.tokens).variant
        decision = Decision(suite, table, _quality(scored.get(suite, [])), chosen)
        _pair_variants(decision, by_case.get(suite, {}))
        out.append(decision)
    return out


def _pair_variants(decision: Decision, records: Mapping[str, Mapping[str, CaseRecord]]) -> None:
    """Each variant against the shipped one (or the first), case by case; the chosen one against the next candidate."""
    names = [r.variant for r in decision.rows if r.variant in records]
    if len(names) < 2:
        return
    shipped = [name for name in names if any(rec.shipped for rec in records[name].values())]
    decision.reference = shipped[0] if shipped else names[0]

    def versus(before: str, after: str) -> paired.Comparison | None:
        pairs = [
            paired_outcome(records[after][case], against=records[before][case])
            for case in records[after]
            if case in records[before]
        ]
        first = next(iter(records[after].values()))
        outcomes = [p for p in pairs if p is not None]
        return paired.compare(
            decision.suite, outcomes, alpha=first.alpha, cluster=first.cluster_by, sides=(before, after)
        )

    for name in names:
        if name != decision.reference:
            comparison = versus(decision.reference, name)
            if comparison is not None:
                decision.versus[name] = comparison
    if decision.chosen is not None:
        others = [r for r in decision.rows if r.variant != decision.chosen and r.variant in records]
        if others:
            runner_up = max(others, key=lambda r: (r.pass_rate, -r.index)).variant
            decision.lead = versus(runner_up, decision.chosen)


def _quality(checks: Sequence[str]) -> list[str]:
    """Checks whose score measures answer quality (fuzzy, f1, similar, judge, tone...): the columns worth a mean."""
    return [c for c in checks if (definition := check_definition(c)) is not None and definition.quality]


def money(value: float | None) -> str:
    """``$0.0123``; small amounts keep two significant digits (``$0.000021``)."""
    if value is None:
        return "-"
    if 0 < abs(value) < 0.001:
        return f"${value:.2g}" if value < 1e-6 else f"${value:.6f}".rstrip("0")
    return f"${value:.4f}"


def _versus_cell(comparison: paired.Comparison | None) -> str:
    """``-12 pts [-20, -4]``, or ``-`` for the reference variant itself."""
    if comparison is None:
        return "-"
    rate = comparison.rate
    mark = "" if comparison.verdict == "within noise" else " *"
    return f"{rate.diff * 100:+.0f} pts [{rate.low * 100:+.0f}, {rate.high * 100:+.0f}]{mark}"


def table_rows(decision: Decision) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the matrix as text cells (shared by the terminal, Markdown and HTML)."""
    header = ["variant", "pass rate", *[f"mean {c}" for c in decision.checks], "gates", "tokens", "cost", "latency"]
    if decision.versus:
        header.insert(2, f"vs {decision.reference} (95% CI)")
    body = []
    for r in decision.rows:
        gates = "-" if not r.gates else f"{sum(bool(g['passed']) for g in r.gates)}/{len(r.gates)} pass"
        body.append(
            [
                r.variant + (" *" if r.variant == decision.chosen else ""),
                f"{r.passed}/{r.cases} ({r.pass_rate:.0%})",
                *["-" if r.mean(c) is None else f"{r.mean(c):.2f}" for c in decision.checks],
                gates,
                str(r.tokens),
                money(r.cost_usd),
                "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms",
            ]
        )
        if decision.versus:
            body[-1].insert(2, _versus_cell(decision.versus.get(r.variant)))
    return header, body
