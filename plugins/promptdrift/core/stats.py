"""Pass rates of sampled cases and their Wilson score bound."""

from __future__ import annotations

import math


def wilson_lower(passes: int, samples: int, confidence: float) -> float:
    """The lower end of the Wilson score interval for ``passes`` out of ``samples``.

    Two-sided at ``confidence`` (0.95 uses z = 1.96): with 9 of 10 passing the
    rate is 0.9 and the bound 0.596, so "at least 0.8 at 95 % confidence" is
    not shown by ten samples.
    """
    if samples <= 0:
        return 0.0
    from statistics import NormalDist  # slow: statistics imports fractions and decimal; only confidence bounds use it

    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = passes / samples
    centre = p + z * z / (2 * samples)
    spread = z * math.sqrt(p * (1 - p) / samples + z * z / (4 * samples * samples))
    return max(0.0, (centre - spread) / (1 + z * z / samples))
