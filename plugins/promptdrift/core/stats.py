"""Exact tests and intervals with the standard library only, so a verdict never depends on what is installed.

Each function gives the numbers ``scipy.stats`` gives for the same call (the
test suite checks them against scipy where it is installed):

* :func:`binomial_p`: ``binomtest(k, n, 0.5).pvalue``, two-sided (the exact
  McNemar test on discordant pairs, and the sign test);
* :func:`fisher_p`: ``fisher_exact(table).pvalue``, two-sided;
* :func:`wilson`: ``binomtest(k, n).proportion_ci(method="wilson")``;
* :func:`bootstrap_mean`: a paired percentile bootstrap of a mean with a
  seeded generator (its own resamples, so its digits are its own: the same
  on every machine, whatever is installed).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

RELATIVE = 1 + 1e-7  # outcomes this close to the observed one's probability count as being as extreme (as scipy)


def z_value(alpha: float) -> float:
    """The two-sided normal quantile for confidence ``1 - alpha`` (1.96 at 0.05)."""
    from statistics import NormalDist  # slow: statistics imports fractions and decimal; only bounds use it

    return NormalDist().inv_cdf(1 - alpha / 2)


def binomial_p(k: int, n: int) -> float:
    """The exact two-sided p-value of ``k`` successes in ``n`` fair trials (1.0 when ``n`` is 0).

    With a fair coin the distribution is symmetric, so the two-sided p-value is
    twice the smaller tail, at most 1: 1 of 10 gives 2 · (1 + 10) / 2¹⁰.
    """
    if n == 0:
        return 1.0
    low = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(low + 1))
    return min(1.0, 2 * tail / 2**n)


def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact two-sided p-value for the table ``[[a, b], [c, d]]``.

    The sum of the hypergeometric probabilities of every table with the same
    margins that is no more likely than the observed one.
    """
    row, column, total = a + b, a + c, a + b + c + d
    if total == 0:
        return 1.0
    denominator = math.comb(total, column)

    def chance(x: int) -> float:
        return math.comb(row, x) * math.comb(total - row, column - x) / denominator

    observed = chance(a)
    lowest, highest = max(0, column - (total - row)), min(row, column)
    p = sum(q for x in range(lowest, highest + 1) if (q := chance(x)) <= observed * RELATIVE)
    return min(1.0, p)


def wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``k / n`` at two-sided ``confidence``."""
    if n <= 0:
        return 0.0, 1.0
    z = z_value(1 - confidence)
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def wilson_lower(passes: int, samples: int, confidence: float) -> float:
    """The lower end of the Wilson score interval for ``passes`` out of ``samples``.

    Two-sided at ``confidence`` (0.95 uses z = 1.96): with 9 of 10 passing the
    rate is 0.9 and the bound 0.596, so "at least 0.8 at 95 % confidence" is
    not shown by ten samples.
    """
    return wilson(passes, samples, confidence)[0] if samples > 0 else 0.0


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated linearly (numpy's default)."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def bootstrap_mean(
    diffs: Sequence[float], alpha: float, *, resamples: int = 9999, seed: int = 0
) -> tuple[float, float, float]:
    """A percentile bootstrap of the mean of ``diffs``: ``(low, high, standard error)``.

    The generator is seeded, so the same differences give the same interval on
    every run and every machine.
    """
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    centre = sum(means) / resamples
    se = math.sqrt(sum((m - centre) ** 2 for m in means) / (resamples - 1))
    return _quantile(means, alpha / 2), _quantile(means, 1 - alpha / 2), se
