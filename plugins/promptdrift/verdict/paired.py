"""Paired comparisons with error bars: is a drop real, or luck?

Two sets of outcomes over the same cases (a re-recording and its baseline, or
a variant and the shipped one) are compared case by case, as E. Miller
recommends for evals ("Adding Error Bars to Evals", 2024):

* each case's outcome is 1 or 0 (passed), or its pass rate k/N over samples;
  the per-case differences give the mean difference and its standard error
  (central limit theorem), clustered when cases share a source;
* with fewer than 30 cases (and no clusters) the interval is a paired
  bootstrap instead; the method used is named;
* the cases that moved (pass→fail against fail→pass) get an exact test: McNemar's
  (the binomial test on the discordant pairs), or with samples the sign test on
  the cases whose rate fell or rose; each sampled case's two k/N get Fisher's exact test;
* every comparison states the smallest drop it could detect at its alpha with
  80 % power for the cases (and samples) it has.

Every number comes from :mod:`promptdrift.core.stats` (the standard library):
the same cases give the same interval, p-value and verdict whatever is installed.

The verdict (docs/variants.md, "Error bars"): a change is **significant** only when the
interval excludes zero, the exact test rejects "no change" at alpha, and the
change is at least the detectable drop; a comparison whose exact test cannot be
computed is **not testable**, never significant; anything else is **within noise**.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from promptdrift.core.stats import binomial_p, bootstrap_mean, fisher_p, wilson, z_value

BOOTSTRAP_BELOW = 30  # fewer cases than this: a paired bootstrap interval instead of the central limit one
POWER = 0.80


@dataclass(frozen=True)
class Interval:
    """A mean paired difference (after minus before) with its confidence interval."""

    diff: float
    low: float
    high: float
    se: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"diff": self.diff, "low": self.low, "high": self.high, "se": self.se, "method": self.method}


def standard_error(diffs: Sequence[float], clusters: Sequence[str] | None = None) -> float:
    """The standard error of the mean of ``diffs``; clustered (cluster-robust) when ``clusters`` are given.

    Unclustered: the sample standard deviation over √n. Clustered: the sum of
    residuals within each cluster, squared and added, with the usual G/(G-1)
    correction, over n; with one case per cluster it equals the unclustered one.
    """
    n = len(diffs)
    if n < 2:
        return 0.0
    mean = sum(diffs) / n
    if clusters is None:
        return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n)
    totals: dict[str, float] = {}
    for d, c in zip(diffs, clusters, strict=True):
        totals[c] = totals.get(c, 0.0) + (d - mean)
    groups = len(totals)
    if groups < 2:
        return 0.0
    return math.sqrt(groups / (groups - 1) * sum(t * t for t in totals.values())) / n


def mean_difference(
    before: Sequence[float],
    after: Sequence[float],
    *,
    alpha: float = 0.05,
    clusters: Sequence[str] | None = None,
    cluster_name: str | None = None,
) -> Interval:
    """The mean of ``after - before`` with a ``1 - alpha`` interval (bootstrap under 30 unclustered cases)."""
    diffs = [b - a for a, b in zip(before, after, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n if n else 0.0
    if n and all(d == diffs[0] for d in diffs):
        return _no_variation(mean, n, alpha)
    if clusters is None and n < BOOTSTRAP_BELOW:
        low, high, se = bootstrap_mean(diffs, alpha)
        return Interval(mean, low, high, se, f"paired bootstrap ({n} cases < 30)")
    se = standard_error(diffs, clusters)
    z = z_value(alpha)
    method = (
        "central limit" if clusters is None else f"central limit, clustered by {cluster_name} ({len(set(clusters))})"
    )
    return Interval(mean, mean - z * se, mean + z * se, se, method)


def _no_variation(change: float, n: int, alpha: float) -> Interval:
    """Every case changed alike: no spread to estimate an error from.

    For pass/fail outcomes (a change of -1, 0 or +1 per case) the share of
    cases that moved is a proportion, k of n: its Wilson interval bounds the
    difference. Other values keep the point, and say why.
    """
    cases = f"{n} case" + ("s" if n != 1 else "")
    if change in (-1.0, 0.0, 1.0):
        low, high = wilson(n if change else 0, n, 1 - alpha)
        low, high = (low, high) if change > 0 else (-high, -low) if change < 0 else (-high, high)
        return Interval(change, low, high, 0.0, f"Wilson interval ({cases}, all changed alike)")
    if n == 1:
        return Interval(change, -1.0, 1.0, 0.0, "one case: no interval")
    return Interval(change, change, change, 0.0, f"no variation ({cases}, all changed alike)")


def mcnemar_exact(down: int, up: int) -> float:
    """The exact McNemar p-value (two-sided) on the discordant cases: ``down`` pass→fail, ``up`` fail→pass.

    With samples, the same binomial test on the cases whose rate fell and rose is the sign test.
    """
    return binomial_p(min(down, up), down + up)


def fisher_exact(k_before: int, n_before: int, k_after: int, n_after: int) -> float:
    """Fisher's exact p-value (two-sided) for one case's two pass counts ``k/n``."""
    return fisher_p(k_before, n_before - k_before, k_after, n_after - k_after)


def detectable_drop(se_observed: float, planning_variance: float, n: int, alpha: float) -> float | None:
    """The smallest drop a paired comparison of ``n`` cases detects at ``alpha`` with 80 % power.

    The standard error is the larger of the observed one and the planning one,
    ``√(planning_variance / n)``: before any flips are seen, two answers per
    case are assumed to agree no better than chance at the baseline rate.
    """
    if n == 0:
        return None
    se = max(se_observed, math.sqrt(planning_variance / n))
    if se == 0:
        return None
    return (z_value(alpha) + NormalDist().inv_cdf(POWER)) * se


@dataclass(frozen=True)
class Outcome:
    """One case on both sides: passes out of tries, quality scores by check, and its cluster."""

    case: str
    k_before: int
    n_before: int
    k_after: int
    n_after: int
    scores_before: dict[str, float] = field(default_factory=dict)
    scores_after: dict[str, float] = field(default_factory=dict)
    cluster: str | None = None

    @property
    def before(self) -> float:
        return self.k_before / self.n_before

    @property
    def after(self) -> float:
        return self.k_after / self.n_after

    @property
    def sampled(self) -> bool:
        return self.n_before > 1 or self.n_after > 1


@dataclass
class ScoreComparison:
    check: str
    n: int
    mean_before: float
    mean_after: float
    interval: Interval
    detectable: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "n": self.n,
            "mean_before": self.mean_before,
            "mean_after": self.mean_after,
            **self.interval.to_dict(),
            "detectable_drop": self.detectable,
        }


@dataclass
class Comparison:
    """A suite's paired comparison: pass rate and quality scores, before and after, with their error bars."""

    suite: str
    before: str  # what the sides are: "baseline" / "re-recorded", or two variants
    after: str
    alpha: float
    n: int
    rate_before: float
    rate_after: float
    rate: Interval
    mcnemar_p: float
    flipped_down: list[str]  # cases that passed before and fail now
    flipped_up: list[str]
    detectable: float | None
    samples: float  # mean tries per case
    case_p: dict[str, float] = field(default_factory=dict)  # sampled cases: Fisher's exact p on the two k/N
    scores: list[ScoreComparison] = field(default_factory=list)
    cluster: str | None = None

    @property
    def exact_test(self) -> str:
        """The exact test on the cases that moved: McNemar's for pass/fail pairs, the sign test with samples."""
        return "sign test" if self.samples > 1 else "McNemar"

    @property
    def testable(self) -> bool:
        return not math.isnan(self.mcnemar_p)

    @property
    def exact_agrees(self) -> bool:
        """The exact test also rejects "no change" at alpha (a missing p-value never agrees)."""
        return self.testable and self.mcnemar_p < self.alpha

    @property
    def detected(self) -> bool:
        """The change is at least the smallest drop these cases detect with 80 % power."""
        return self.detectable is not None and abs(self.rate.diff) >= self.detectable

    @property
    def verdict(self) -> str:
        """``significant drop`` / ``significant rise`` / ``within noise`` / ``not testable`` (module docstring)."""
        if not self.testable:
            return "not testable"
        if self.rate.high < 0 and self.exact_agrees and self.detected:
            return "significant drop"
        if self.rate.low > 0 and self.exact_agrees and self.detected:
            return "significant rise"
        return "within noise"

    def drops(self, max_drop: float) -> list[str]:
        """What fell by more than ``max_drop`` with the stated confidence: the interval's upper end below
        ``-max_drop`` (for the pass rate, confirmed by the exact test and at least the detectable drop)."""
        rate_fell = self.rate.high < -max_drop and self.verdict == "significant drop"
        fell = [f"pass rate {_points(self.rate, self.alpha)}"] if rate_fell else []
        fell += [
            f"mean {s.check} {_score(s.interval, self.alpha)}"
            for s in self.scores
            if s.interval.high < -max_drop and (s.interval.se > 0 or s.n >= BOOTSTRAP_BELOW)  # a spread to judge by
        ]
        return fell

    def power_note(self) -> str:
        tries = f" x {self.samples:.3g} samples" if self.samples > 1 else ""
        if self.detectable is None:
            return f"with {self.n} cases{tries} the detectable drop cannot be estimated"
        if self.detectable >= 1:
            return (
                f"with {self.n} cases{tries} this comparison cannot reliably detect even a 100-point drop "
                f"(alpha {self.alpha:g}, 80% power); add cases or samples"
            )
        return (
            f"with {self.n} cases{tries} this comparison can only detect a drop of "
            f"{self.detectable * 100:.0f} points (alpha {self.alpha:g}, 80% power); add cases or samples to see less"
        )

    @property
    def moved(self) -> bool:
        """Whether anything changed: a case flipped, the pass rate or a mean score moved."""
        return bool(
            self.flipped_down
            or self.flipped_up
            or self.rate.diff
            or any(s.mean_before != s.mean_after for s in self.scores)
        )

    def lines(self) -> list[str]:
        """The terminal's account of the comparison: one line when nothing moved, the details when it did."""
        if not self.moved:
            return [
                f"paired     {self.suite}: {self.before} -> {self.after}, {self.n} cases: no change "
                f"(pass rate {self.rate_after:.1%}, no case flipped, every mean score the same)"
            ]
        head = (
            f"paired     {self.suite}: {self.before} -> {self.after}, {self.n} cases: pass rate "
            f"{self.rate_before:.1%} -> {self.rate_after:.1%}, {_points(self.rate, self.alpha)}, "
            f"{self.exact_test} p={_p(self.mcnemar_p)}: {self.verdict}"
        )
        out = [head, f"           {self.power_note()}"]
        for s in self.scores:
            out.append(
                f"           mean {s.check} {s.mean_before:.3f} -> {s.mean_after:.3f}, {_score(s.interval, self.alpha)}"
            )
        if self.flipped_down or self.flipped_up:
            out.append(
                f"           flipped: {len(self.flipped_down)} pass->fail ({_names(self.flipped_down)}), "
                f"{len(self.flipped_up)} fail->pass ({_names(self.flipped_up)})"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "before": self.before,
            "after": self.after,
            "alpha": self.alpha,
            "n": self.n,
            "samples_per_case": self.samples,
            "cluster": self.cluster,
            "rate_before": self.rate_before,
            "rate_after": self.rate_after,
            "rate": self.rate.to_dict(),
            "mcnemar_p": self.mcnemar_p,
            "exact_test": self.exact_test,
            "verdict": self.verdict,
            "detectable_drop": self.detectable,
            "power": self.power_note(),
            "flipped_down": self.flipped_down,
            "flipped_up": self.flipped_up,
            "case_p": self.case_p,
            "scores": [s.to_dict() for s in self.scores],
        }


def _points(interval: Interval, alpha: float) -> str:
    """A pass-rate difference in percentage points, with its interval and how it was computed."""
    return (
        f"{interval.diff * 100:+.1f} points ({1 - alpha:.0%} CI {interval.low * 100:+.1f} to "
        f"{interval.high * 100:+.1f}, {interval.method})"
    )


def _score(interval: Interval, alpha: float) -> str:
    """A score difference, with its interval and how it was computed."""
    return f"{interval.diff:+.3f} ({1 - alpha:.0%} CI {interval.low:+.3f} to {interval.high:+.3f}, {interval.method})"


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def _names(cases: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(cases[:most])
    return shown + (f", +{len(cases) - most} more" if len(cases) > most else "") if cases else "-"


def compare(
    suite: str,
    outcomes: Sequence[Outcome],
    *,
    alpha: float = 0.05,
    cluster: str | None = None,
    sides: tuple[str, str] = ("baseline", "re-recorded"),
) -> Comparison | None:
    """The paired comparison of ``outcomes`` (``None`` without any case on both sides)."""
    if not outcomes:
        return None
    n = len(outcomes)
    before = [o.before for o in outcomes]
    after = [o.after for o in outcomes]
    clusters = [o.cluster or o.case for o in outcomes] if cluster else None
    rate = mean_difference(before, after, alpha=alpha, clusters=clusters, cluster_name=cluster)
    down = [o.case for o in outcomes if o.after < o.before]
    up = [o.case for o in outcomes if o.after > o.before]
    # McNemar on pass/fail pairs; with samples, the same binomial test on the cases' directions (the sign test).
    mcnemar = mcnemar_exact(len(down), len(up))
    tries = sum(o.n_before for o in outcomes) / n
    pooled = (sum(o.k_before for o in outcomes) + 1) / (sum(o.n_before for o in outcomes) + 2)
    planning = 2 * pooled * (1 - pooled) / tries
    comparison = Comparison(
        suite,
        sides[0],
        sides[1],
        alpha,
        n,
        sum(before) / n,
        sum(after) / n,
        rate,
        mcnemar,
        down,
        up,
        detectable_drop(rate.se, planning, n, alpha),
        tries,
        case_p={o.case: fisher_exact(o.k_before, o.n_before, o.k_after, o.n_after) for o in outcomes if o.sampled},
        cluster=cluster,
    )
    checks = sorted({c for o in outcomes for c in o.scores_before} & {c for o in outcomes for c in o.scores_after})
    for check in checks:
        pairs = [o for o in outcomes if check in o.scores_before and check in o.scores_after]
        old = [o.scores_before[check] for o in pairs]
        new = [o.scores_after[check] for o in pairs]
        score_clusters = [o.cluster or o.case for o in pairs] if cluster else None
        interval = mean_difference(old, new, alpha=alpha, clusters=score_clusters, cluster_name=cluster)
        mean_old = sum(old) / len(old)
        spread = sum((x - mean_old) ** 2 for x in old) / max(1, len(old) - 1)
        comparison.scores.append(
            ScoreComparison(
                check,
                len(pairs),
                mean_old,
                sum(new) / len(new),
                interval,
                detectable_drop(interval.se, 2 * spread, len(pairs), alpha),
            )
        )
    return comparison
