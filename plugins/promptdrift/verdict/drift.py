"""Drift verdicts: compare a new recording with the cassette it replaced (the baseline).

A **regression** is a check that passed in the baseline and fails now, or a
quality score that fell by more than the tolerance (``promptdrift_tolerance``,
or ``drift_tolerance:`` on the check). Regressions fail the case; improvements,
reworded answers, another returned model snapshot and usage changes are
reported, never failed.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from promptdrift.cassettes.secrets import redact, secret_values
from promptdrift.checks import CheckSpec, check_definition
from promptdrift.checks.operational import price_of
from promptdrift.config import Settings
from promptdrift.core.answers import Answer, CheckResult, total_usage
from promptdrift.core.errors import DriftError, ErrorAnswer, MissingCassetteError
from promptdrift.run.outcome import Outcome, passes
from promptdrift.suite.model import Case, Suite
from promptdrift.verdict import paired

REGRESSION = "regression"
IMPROVEMENT = "improvement"
SAME = "same"
ADDED = "added"
REMOVED = "removed"


@dataclass
class CheckDelta:
    """One check, before (baseline) and after (new recording)."""

    check: str
    verdict: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str = ""

    @property
    def score_delta(self) -> float | None:
        old = (self.before or {}).get("score")
        new = (self.after or {}).get("score")
        return None if old is None or new is None else new - old


def _keyed(entries: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], Mapping[str, Any]]:
    """Checks keyed by (name, occurrence), so a suite with two ``tone`` checks pairs them in order."""
    seen: dict[str, int] = defaultdict(int)
    keyed = {}
    for entry in entries:
        name = str(entry.get("check"))
        keyed[(name, seen[name])] = entry
        seen[name] += 1
    return keyed


def quality_score(name: str) -> bool:
    """Whether a fall in this check's score means a worse answer (scores in [0, 1] that grade quality)."""
    base = name.removeprefix("not_")
    definition = check_definition(base)
    return definition is not None and definition.quality


def compare_checks(
    baseline: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    tolerance: float,
    specs: Sequence[CheckSpec] = (),
) -> list[CheckDelta]:
    """Pair baseline and new check results (as stored in cassettes) and give each pair its verdict.

    ``specs`` supply per-check ``drift_tolerance`` overrides when the suite is at hand.
    """
    tolerances = _keyed([{"check": spec.label, "tolerance": spec.tolerance} for spec in specs])
    before = _keyed(baseline)
    after = _keyed(results)
    deltas = []
    for key in list(after) + [k for k in before if k not in after]:
        old, new = before.get(key), after.get(key)
        name = key[0]
        if old is None:
            deltas.append(CheckDelta(name, ADDED, None, dict(new or {})))
            continue
        if new is None:
            deltas.append(CheckDelta(name, REMOVED, dict(old), None))
            continue
        limit = (tolerances.get(key) or {}).get("tolerance")
        limit = tolerance if limit is None else limit
        verdict, note = SAME, ""
        if old.get("passed") and not new.get("passed"):
            verdict, note = REGRESSION, "passed before, fails now"
        elif not old.get("passed") and new.get("passed"):
            verdict, note = IMPROVEMENT, "failed before, passes now"
        elif quality_score(name) and old.get("score") is not None and new.get("score") is not None:
            delta = float(new["score"]) - float(old["score"])
            if delta < -limit:
                verdict, note = REGRESSION, f"score fell {-delta:.3g} (tolerance {limit:g})"
            elif delta > limit:
                verdict, note = IMPROVEMENT, f"score rose {delta:.3g}"
        deltas.append(CheckDelta(name, verdict, dict(old), dict(new), note))
    return deltas


def failure_status(exc: Exception) -> str:
    """The status of a case that failed before its checks: what the summary counts it as."""
    if isinstance(exc, DriftError):
        return "drift"
    if isinstance(exc, MissingCassetteError):
        return "missing"
    if isinstance(exc, ErrorAnswer):
        return "rejected"
    return "error"


@dataclass
class CaseRecord:
    """What the reports need of one case: its answer, checks, usage and drift against the baseline."""

    suite: str
    case: str
    nodeid: str
    status: str  # replayed, recorded; or why it failed before its checks: drift, missing, rejected, error
    passed: bool
    answer: str = ""
    model: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    cost_usd: float | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    baseline: dict[str, Any] | None = None  # answer, model, usage, latency_ms, cost_usd of the old recording
    deltas: list[CheckDelta] = field(default_factory=list)
    variant: str | None = None
    variant_index: int = 0
    generated: bool = False  # the samples are a suite's generated examples (generate:)
    samples: int = 0  # with samples: how many, how many passed, the rate, its Wilson bound and what is required
    passes: int = 0
    pass_rate: float | None = None
    pass_bound: float | None = None
    required_rate: float | None = None
    cassette: str = ""  # the cassette's path, relative to the root
    # Paired comparisons (verdict.paired): passes out of tries now and in the baseline, the case's cluster.
    pass_count: int = 0
    pass_total: int = 0
    baseline_pass_count: int | None = None
    baseline_pass_total: int | None = None
    cluster: str | None = None
    cluster_by: str | None = None
    alpha: float = 0.05
    shipped: bool = False  # the suite's shipped variant (the decision matrix compares the others with it)
    outcome_passed: bool = False  # the case's own verdict on its checks (regressions aside): what gates count
    labels: list[list[str | None]] = field(default_factory=list)  # label checks' [predicted, expected]
    cassette_state: str | None = None  # "edited" by hand since it was recorded, or "no digest"
    messages: list[dict[str, str]] = field(default_factory=list)  # the rendered prompt (see prompt_messages)
    expected_failure: bool = False  # reported as xfail: a candidate variant's, or judged by the suite's comparison

    @property
    def regressions(self) -> list[CheckDelta]:
        return [d for d in self.deltas if d.verdict == REGRESSION]

    @property
    def improvements(self) -> list[CheckDelta]:
        return [d for d in self.deltas if d.verdict == IMPROVEMENT]

    @property
    def answer_changed(self) -> bool:
        return self.baseline is not None and self.baseline.get("answer") != self.answer

    @property
    def model_changed(self) -> bool:
        return self.baseline is not None and self.baseline.get("model") != self.model

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}  # shallow: json.dumps copies anyway
        data["deltas"] = [asdict(d) for d in self.deltas]
        data["regressions"] = len(self.regressions)
        data["improvements"] = len(self.improvements)
        data["answer_changed"] = self.answer_changed
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["deltas"] = [CheckDelta(**d) for d in data.get("deltas") or []]
        return cls(**fields)


def baseline_summary(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an old cassette's metadata that reports compare with."""
    calls = meta.get("interactions") or []
    first = calls[0] if calls and isinstance(calls[0], Mapping) else {}
    return {
        "answer": meta.get("answer", ""),
        "model": first.get("model_returned"),  # of the answer call, not of graders or embeddings
        "model_requested": first.get("model_requested"),
        "usage": _recorded_usage(meta) or dict(first.get("usage") or {}),
        "latency_ms": first.get("latency_ms"),
        "recorded_at": meta.get("recorded_at"),
        # recorded through a provider batch: priced at the batch rate
        **({"batch": first["batch"]} if first.get("batch") else {}),
    }


def _recorded_usage(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The tokens a case's answers used when it was recorded: all its calls and samples, as a new record counts."""
    answers = [meta, *(s for s in meta.get("samples") or [] if isinstance(s, Mapping))]
    if not all(isinstance(a.get("usage"), Mapping) for a in answers):
        return {}  # recorded before promptdrift stored it: the first call's usage stands in
    return total_usage(a["usage"] for a in answers)


@dataclass(frozen=True)
class Judging:
    """How a suite's re-recording is judged: its ``drift:`` block, else the run's options, else the defaults."""

    verdict: str
    alpha: float
    max_drop: float

    @property
    def significant(self) -> bool:
        return self.verdict == "significant"


def judging(suite: Suite, settings: Settings) -> Judging:
    rule = suite.drift
    verdict = rule.verdict or settings.drift_verdict or "strict"
    alpha = rule.alpha if rule.alpha is not None else settings.drift_alpha
    max_drop = rule.max_drop if rule.max_drop is not None else settings.drift_max_drop
    return Judging(verdict, 0.05 if alpha is None else alpha, 0.02 if max_drop is None else max_drop)


def baseline_passes(meta: Mapping[str, Any], specs: Sequence[CheckSpec], min_score: float | None) -> tuple[int, int]:
    """Passes out of tries in an old recording: its ``pass_rate`` k/N when sampled, else its checks' verdict."""
    rate = meta.get("pass_rate")
    if isinstance(rate, str) and "/" in rate:
        k, _, n = rate.partition("/")
        if k.isdigit() and n.isdigit() and int(n) > 0:
            return int(k), int(n)
    results = [
        CheckResult(str(c.get("check")), bool(c.get("passed")), c.get("score"))
        for c in meta.get("checks") or []
        if isinstance(c, Mapping)
    ]
    return int(passes(results, specs, min_score)), 1


def cluster_of(suite: Suite, case: Case) -> str | None:
    """The value of the suite's ``cluster:`` variable (or case field) for ``case``."""
    if suite.cluster is None:
        return None
    value = case.vars.get(suite.cluster, getattr(case, suite.cluster, None))
    return None if value is None else str(value)


def case_record(suite: Suite, case: Case, nodeid: str, outcome: Outcome, settings: Settings) -> CaseRecord:
    """The report record of a case that ran; compared with its baseline when it was (re-)recorded.

    A sampled case's tokens, cost and latency add up (latency: the mean) over its samples.
    """
    judge = judging(suite, settings)
    variant, variant_index = suite.variant, suite.variant_index
    answer = outcome.answer
    answers = [s.answer for s in outcome.samples] or [answer]
    usage = total_usage(each.usage for each in answers)
    costs = [price_of(settings.prices, each) for each in answers]
    latencies = [each.latency_ms for each in answers if each.latency_ms is not None]
    record = CaseRecord(
        suite=suite.label,
        case=case.id,
        nodeid=nodeid,
        status="recorded" if outcome.recorded else "replayed",
        passed=outcome.passed,
        answer=answer.model_text,
        model=answer.model,
        usage=usage,
        latency_ms=sum(latencies) / len(latencies) if latencies else None,
        cost_usd=None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        checks=[r.to_dict() for r in outcome.results],
        variant=variant,
        variant_index=variant_index,
        cassette=outcome.cassette,
        cassette_state=outcome.cassette_state,
        messages=prompt_messages(outcome.messages),
        cluster=cluster_of(suite, case),
        cluster_by=suite.cluster,
        alpha=judge.alpha,
        shipped=suite.variant is not None and suite.variant == suite.ship,
    )
    record.outcome_passed = outcome.passed
    record.labels = [
        [r.details.get("predicted"), str(r.details["expected"])]
        for r in outcome.results
        if r.name == "label" and "expected" in r.details
    ]
    record.pass_count, record.pass_total = (
        (outcome.sample_passes, len(outcome.samples)) if outcome.sampling is not None else (int(outcome.passed), 1)
    )
    if outcome.sampling is not None:
        record.generated = outcome.examples is not None
        record.samples = len(outcome.samples)
        record.passes = outcome.sample_passes
        record.pass_rate = outcome.pass_rate
        record.pass_bound = outcome.pass_bound
        record.required_rate = outcome.required_rate
    if outcome.recorded and outcome.baseline:
        record.baseline = baseline_summary(outcome.baseline)
        old_answer = Answer(
            "",
            usage=record.baseline["usage"],
            requested_model=record.baseline["model_requested"],
            batch=record.baseline.get("batch"),
        )
        record.baseline["cost_usd"] = price_of(settings.prices, old_answer)
        checks = outcome.baseline.get("checks") or []
        record.deltas = compare_checks(checks, record.checks, settings.tolerance, outcome.specs)
        record.baseline_pass_count, record.baseline_pass_total = baseline_passes(
            outcome.baseline, outcome.specs, outcome.min_score
        )
        if record.regressions and not judge.significant:  # significant: the suite's comparison decides
            record.passed = False
    return record


MESSAGE_CHARS, MESSAGES = 4000, 50  # what a case record keeps of its prompt, for the reports


def prompt_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The prompt as the reports show it: each message's role and text (tool calls and content parts as
    JSON), at most :data:`MESSAGES` messages of :data:`MESSAGE_CHARS` characters each, secrets redacted."""
    known = secret_values(os.environ)
    out = []
    for message in list(messages)[:MESSAGES]:
        content = message.get("content")
        if not isinstance(content, str):
            content = json.dumps(content if content is not None else message.get("tool_calls"), ensure_ascii=False)
        content = redact(content, known)
        if len(content) > MESSAGE_CHARS:
            content = content[:MESSAGE_CHARS] + f"… ({len(content) - MESSAGE_CHARS:,} more characters)"
        out.append({"role": str(message.get("role", "")), "content": content})
    if len(messages) > MESSAGES:
        out.append({"role": "…", "content": f"{len(messages) - MESSAGES} more messages"})
    return out


def regression_message(record: CaseRecord) -> str:
    """The failure text of a case whose new recording regressed against its baseline."""
    lines = [f"regression against the previous recording ({len(record.regressions)} check(s) got worse):"]
    for delta in record.regressions:
        old = (delta.before or {}).get("score")
        new = (delta.after or {}).get("score")
        scores = f" [{old:.3g} -> {new:.3g}]" if old is not None and new is not None else ""
        reason = (delta.after or {}).get("reason", "")
        lines.append(f"  REGRESSION {delta.check}{scores}: {delta.note}" + (f"; {reason}" if reason else ""))
    if record.baseline is not None:
        if record.model_changed:
            lines.append(f"model: {record.baseline.get('model')} -> {record.model}")
        lines.append("old answer:")
        lines.extend("  | " + line for line in (record.baseline.get("answer") or "<empty>").splitlines()[:15])
    lines.append("new answer:")
    lines.extend("  | " + line for line in (record.answer or "<empty>").splitlines()[:15])
    lines.append("The new recording is kept; restore the old cassette from git if the change is not wanted.")
    return "\n".join(lines)


def paired_outcome(record: CaseRecord, against: CaseRecord | None = None) -> paired.Outcome | None:
    """A record on both sides: against its baseline, or (``against``) another variant's record of the same case."""
    if against is not None:
        if not against.pass_total or not record.pass_total:
            return None
        k_before, n_before = against.pass_count, against.pass_total
        before = {c["check"]: float(c["score"]) for c in against.checks if _quality_scored(c)}
    else:
        if not record.baseline_pass_total:
            return None
        k_before, n_before = record.baseline_pass_count or 0, record.baseline_pass_total
        before = {d.check: float(d.before["score"]) for d in record.deltas if d.before and _quality_scored(d.before)}
    after = {c["check"]: float(c["score"]) for c in record.checks if _quality_scored(c)}
    return paired.Outcome(
        record.case, k_before, n_before, record.pass_count, record.pass_total, before, after, record.cluster
    )


def _quality_scored(check: Mapping[str, Any]) -> bool:
    return isinstance(check.get("score"), int | float) and quality_score(str(check.get("check")))


def rerecord_comparisons(cases: Sequence[CaseRecord]) -> list[paired.Comparison]:
    """Per suite (and variant): the re-recorded cases against their baselines, paired."""
    groups: dict[str, list[CaseRecord]] = defaultdict(list)
    for record in cases:
        if record.baseline_pass_total:
            groups[record.suite].append(record)
    out = []
    for suite, records in sorted(groups.items()):
        outcomes = [o for o in (paired_outcome(r) for r in records) if o is not None]
        first = records[0]
        comparison = paired.compare(suite, outcomes, alpha=first.alpha, cluster=first.cluster_by)
        if comparison is not None:
            out.append(comparison)
    return out
