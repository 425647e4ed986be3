"""The numbers behind paired comparisons, checked against scipy and against worked examples.

Worked examples from the literature: Fisher's "lady tasting tea" (The Design
of Experiments, 1935): 8 cups, 4 with milk first, all 4 identified: the exact
test's one-sided p is 1/70, two-sided 2/70. The exact McNemar test is the
binomial test on the discordant pairs (McNemar, 1947): 1 against 9 gives
p = 2 · (1 + 10) / 2¹⁰.
"""

from __future__ import annotations

import random
import statistics

import pytest
from scipy import stats

from promptdrift.verdict.paired import (
    Outcome,
    compare,
    fisher_exact,
    mcnemar_exact,
    mean_difference,
    standard_error,
    z_value,
)


def test_lady_tasting_tea() -> None:
    assert fisher_exact(4, 4, 0, 4) == pytest.approx(2 / 70)
    assert stats.fisher_exact([[4, 0], [0, 4]], alternative="greater").pvalue == pytest.approx(1 / 70)


def test_exact_mcnemar_is_the_binomial_test_on_discordant_pairs() -> None:
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 2**10)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(0, 0) == 1.0


def pairs(n: int, seed: int, p_before: float = 0.9, p_after: float = 0.8) -> list[Outcome]:
    rng = random.Random(seed)
    return [Outcome(f"c{i}", int(rng.random() < p_before), 1, int(rng.random() < p_after), 1) for i in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_large_suites_use_the_central_limit_interval(seed: int) -> None:
    outcomes = pairs(200, seed)
    result = compare("s", outcomes)
    assert result is not None
    diffs = [o.after - o.before for o in outcomes]
    se = stats.sem(diffs)  # scipy's standard error of the mean (ddof=1)
    mean = statistics.fmean(diffs)
    assert result.rate.diff == pytest.approx(mean)
    assert result.rate.se == pytest.approx(se)
    assert (result.rate.low, result.rate.high) == pytest.approx((mean - 1.959964 * se, mean + 1.959964 * se))
    down = sum(o.before > o.after for o in outcomes)
    up = sum(o.after > o.before for o in outcomes)
    assert result.mcnemar_p == pytest.approx(stats.binomtest(min(down, up), down + up, 0.5).pvalue)
    assert len(result.flipped_down) == down and len(result.flipped_up) == up
    assert result.rate.method == "central limit"


def test_small_suites_use_a_paired_bootstrap_and_say_so() -> None:
    """promptdrift's own seeded bootstrap: its digits are its own, its interval scipy's within resampling error."""
    outcomes = pairs(20, 3, 0.8, 0.5)
    result = compare("s", outcomes)
    assert result is not None and result.rate.method == "paired bootstrap (20 cases < 30)"
    assert compare("s", outcomes) == result  # seeded: the same cases give the same interval
    before = [o.before for o in outcomes]
    after = [o.after for o in outcomes]
    expected = stats.bootstrap(
        (before, after),
        lambda x, y, axis=-1: (y - x).mean(axis=axis),
        paired=True,
        vectorized=True,
        method="percentile",
        n_resamples=9999,
        random_state=0,
    ).confidence_interval
    assert (result.rate.low, result.rate.high) == pytest.approx((expected.low, expected.high), abs=0.03)


def test_cases_that_all_changed_alike_get_a_wilson_interval_not_a_point() -> None:
    result = compare("s", [Outcome(f"c{i}", 1, 1, 0, 1) for i in range(3)])
    assert result is not None
    wilson = stats.binomtest(3, 3).proportion_ci(method="wilson")
    assert (result.rate.low, result.rate.high) == pytest.approx((-wilson.high, -wilson.low))
    assert result.mcnemar_p == pytest.approx(0.25)
    assert result.verdict == "within noise"  # 3 of 3 flipped is not enough for the exact test


def test_clustered_cases_widen_the_interval() -> None:
    """Documents whose cases flip together: clustering by document widens the error bars."""
    outcomes = []
    for doc in range(20):
        flips = doc % 4 == 0  # every case of one document in four flips
        outcomes += [Outcome(f"d{doc}-{i}", 1, 1, 0 if flips else 1, 1, cluster=f"doc{doc}") for i in range(10)]
    plain = compare("s", outcomes)
    clustered = compare("s", outcomes, cluster="document")
    assert plain is not None and clustered is not None
    assert clustered.rate.diff == plain.rate.diff
    assert clustered.rate.high - clustered.rate.low > 2 * (plain.rate.high - plain.rate.low)
    assert clustered.rate.method == "central limit, clustered by document (20)"


def test_one_case_per_cluster_is_the_unclustered_error() -> None:
    diffs = [random.Random(7).choice([-1.0, 0.0, 1.0]) for _ in range(50)]
    assert standard_error(diffs, [str(i) for i in range(50)]) == pytest.approx(standard_error(diffs))


def test_sampled_cases_compare_their_rates_and_each_gets_fishers_test() -> None:
    outcomes = [Outcome("a", 9, 10, 4, 10), Outcome("b", 10, 10, 10, 10), Outcome("c", 3, 5, 5, 5)]
    result = compare("s", outcomes)
    assert result is not None
    assert result.rate_before == pytest.approx((0.9 + 1.0 + 0.6) / 3)
    assert result.rate_after == pytest.approx((0.4 + 1.0 + 1.0) / 3)
    assert result.case_p["a"] == pytest.approx(stats.fisher_exact([[9, 1], [4, 6]]).pvalue)
    assert result.case_p["c"] == pytest.approx(stats.fisher_exact([[3, 2], [5, 0]]).pvalue)
    assert result.exact_test == "sign test" and result.mcnemar_p == 1.0  # one case fell, one rose
    assert result.flipped_down == ["a"] and result.flipped_up == ["c"]
    assert result.verdict == "within noise"


def test_more_samples_and_more_cases_detect_smaller_drops() -> None:
    def drop(n: int, samples: int) -> float:
        result = compare("s", [Outcome(f"c{i}", samples, samples, samples, samples) for i in range(n)])
        assert result is not None and result.detectable is not None
        return result.detectable

    assert drop(200, 1) < drop(24, 1)
    assert drop(24, 10) < drop(24, 1)
    result = compare("s", [Outcome(f"c{i}", 1, 1, 1, 1) for i in range(24)])
    assert result is not None
    assert "with 24 cases this comparison can only detect a drop of" in result.power_note()


def test_scores_are_compared_pairwise() -> None:
    rng = random.Random(11)
    outcomes = [
        Outcome(f"c{i}", 1, 1, 1, 1, {"f1": (b := rng.random())}, {"f1": max(0.0, b - 0.1 + rng.gauss(0, 0.05))})
        for i in range(40)
    ]
    result = compare("s", outcomes)
    assert result is not None
    (score,) = result.scores
    diffs = [o.scores_after["f1"] - o.scores_before["f1"] for o in outcomes]
    assert score.interval.diff == pytest.approx(statistics.fmean(diffs))
    assert score.interval.high == pytest.approx(statistics.fmean(diffs) + z_value(0.05) * stats.sem(diffs))
    assert result.drops(0.02) == [
        f"mean f1 {score.interval.diff:+.3f} (95% CI {score.interval.low:+.3f} to {score.interval.high:+.3f}, central limit)"
    ]


def test_mean_difference_of_nothing_changed() -> None:
    interval = mean_difference([1.0] * 40, [1.0] * 40)
    assert interval.diff == 0 and interval.low < 0 < interval.high  # 0 of 40 moved: bounded, not certain
