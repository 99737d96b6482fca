"""The report's statistics (vrft_lib.report.stats): McNemar, the paired bootstrap, the verdict rules,
the seed interval; and how findings pair two cells' predictions."""

import random

import pytest

from vrft_lib.evaluate import wilson_interval
from vrft_lib.report import stats
from vrft_lib.report.findings import paired

# ----------------------------------------------------------------------------------------------


def _binomial_two_sided(k, m):
    """Reference: twice the smaller binomial tail at 1/2, by summing probabilities in floats."""
    from math import comb

    lo = min(k, m - k)
    return min(1.0, 2 * sum(comb(m, i) * 0.5**m for i in range(lo + 1)))


@pytest.mark.parametrize("a_only, b_only", [(0, 0), (1, 0), (7, 2), (2, 7), (10, 10), (30, 12), (250, 300)])
def test_mcnemar_exact(a_only, b_only):
    p = stats.mcnemar_exact(a_only, b_only)
    assert p == pytest.approx(_binomial_two_sided(a_only, a_only + b_only)) and 0 <= p <= 1
    assert p == stats.mcnemar_exact(b_only, a_only)


def test_mcnemar_known_values():
    assert stats.mcnemar_exact(0, 0) == 1.0 and stats.mcnemar_exact(5, 5) == 1.0
    assert stats.mcnemar_exact(6, 0) == pytest.approx(2 / 64)
    assert stats.mcnemar_exact(7, 2) == pytest.approx(0.1796875)


def test_paired_bootstrap_is_deterministic():
    rng = random.Random(1)
    diffs = [[rng.choice((-1, 0, 0, 1)) for _ in range(50)] for _ in range(3)]
    assert stats.paired_bootstrap(diffs) == stats.paired_bootstrap(diffs)
    assert stats.paired_bootstrap(diffs, seed=1) == stats.paired_bootstrap(diffs, seed=1)
    assert stats.paired_bootstrap(diffs, seed=1) != stats.paired_bootstrap(diffs, seed=2)


def test_paired_bootstrap_resamples_seeds_then_items():
    # Within each seed every item has the same difference, so item resampling alone gives no spread:
    # one seed gives a single value; two seeds (all +1, all 0) spread over {0, 0.5, 1} by seed resampling.
    assert stats.paired_bootstrap([[1] * 40]) == (1.0, 1.0)
    lo, hi = stats.paired_bootstrap([[1] * 40, [0] * 40])
    assert (lo, hi) == (0.0, 1.0)
    # items are resampled within a seed too: one seed with mixed items has a spread around its mean
    lo, hi = stats.paired_bootstrap([[1] * 30 + [0] * 70])
    assert 0.2 < lo < 0.3 < hi < 0.4


def test_paired_comparison_matches_items():
    pairs = [[(True, False)] * 15 + [(True, True)] * 80 + [(False, True)] * 5]
    c = stats.paired_comparison(pairs)
    assert c["difference_points"] == pytest.approx(10.0) and c["n"] == 100 and c["discordant"] == [15, 5]
    assert c["p_value"] == pytest.approx(stats.mcnemar_exact(15, 5))
    assert c["ci95"][0] <= 10.0 <= c["ci95"][1]
    assert stats.paired_comparison([]) is None and stats.paired_comparison([[]]) is None
    a = {0: {"x": True, "y": False, "z": True}, 1: {"x": False}}
    b = {0: {"y": True, "x": True}, 2: {"x": True}}
    assert paired(a, b) == [[(True, True), (False, True)]]


@pytest.mark.parametrize(
    "ci, sign, word",
    [
        ([0.5, 3.0], None, "a_higher"),
        ([-3.0, -0.5], None, "b_higher"),
        ([-1.0, 2.0], None, "not_resolved"),
        ([0.0, 2.0], None, "not_resolved"),  # touching 0 is not excluding it
        (None, None, "not_resolved"),
        ([0.5, 3.0], 1, "supported"),
        ([0.5, 3.0], -1, "contradicted"),
        ([-3.0, -0.5], -1, "supported"),
        ([-1.0, 2.0], 1, "not_resolved"),
    ],
)
def test_comparison_verdict(ci, sign, word):
    assert stats.comparison_verdict(ci, sign) == word


S, C, N, M = "supported", "contradicted", "not_resolved", "missing"


@pytest.mark.parametrize(
    "verdicts, every, any_",
    [
        # all resolved the expected way
        ([S, S, S], "supported", "supported"),
        ([S], "supported", "supported"),
        # one of three resolved, the others not: a claim about every benchmark is not supported
        ([S, N, N], "mixed", "supported"),
        ([S, S, N], "mixed", "supported"),
        # none resolved
        ([N, N, N], "not_resolved", "not_resolved"),
        ([], "not_resolved", "not_resolved"),
        # resolved against: one counterexample contradicts a claim about every benchmark
        ([S, S, C], "contradicted", "mixed"),
        ([C, N, N], "contradicted", "contradicted"),
        ([C, C, C], "contradicted", "contradicted"),
        ([C, M], "contradicted", "contradicted"),
        # a missing benchmark (or run): a claim about every benchmark cannot be supported without it
        ([S, S, M], "incomplete", "supported"),
        ([S, M, M], "incomplete", "supported"),
        ([N, M], "incomplete", "incomplete"),
        ([M, M, M], "incomplete", "incomplete"),
    ],
)
def test_claim_verdict_rule(verdicts, every, any_):
    assert stats.claim_verdict(verdicts, "every") == every
    assert stats.claim_verdict(verdicts, "any") == any_
    assert stats.claim_verdict(list(reversed(verdicts))) == every  # order does not matter; every is the default


def test_claim_verdict_refuses_unknown_words():
    with pytest.raises(ValueError, match="quantifier"):
        stats.claim_verdict([S], "all")
    with pytest.raises(ValueError, match="verdict"):
        stats.claim_verdict(["a_higher"])


def test_seed_interval_includes_the_seed_spread():
    # seeds that agree: the pooled Wilson interval, never degenerate
    lo, hi = stats.seed_interval([1.0, 1.0, 1.0], [16, 16, 16])
    assert (lo, hi) == wilson_interval(48, 48) and lo < 1.0
    # seeds that disagree: at least as wide as the t interval of the seed mean
    lo, hi = stats.seed_interval([0.60, 0.64], [1000, 1000])
    half = 12.706 * 0.04 / 2**0.5 / 2**0.5  # t(1) · sd / sqrt(2), sd = 0.04 / sqrt(2)
    assert lo == pytest.approx(0.62 - half) and hi == pytest.approx(0.62 + half)
    assert stats.seed_interval([0.1, 0.9], [100, 100]) == (0.0, 1.0)  # clipped
    single = stats.seed_interval([0.75], [200])
    assert single == wilson_interval(150, 200)
