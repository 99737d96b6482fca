"""The report's statistics: cell intervals and paired comparisons (rules in ``docs/report.md``).

* :func:`~vrft_lib.evaluate.wilson_interval`: the 95% Wilson score interval of one evaluation's
  accuracy (re-exported here);
* :func:`seed_interval`: a cell's interval over several seeds, which includes the seed-to-seed spread;
* :func:`mcnemar_exact`: the exact McNemar test (two-sided binomial on the discordant pairs);
* :func:`paired_bootstrap`: the 95% interval of a paired difference, resampling seeds, then items;
* :func:`paired_comparison`: both, from the aligned 0/1 outcomes of two cells;
* :func:`comparison_verdict` and :func:`claim_verdict`: the words a difference and a claim get.
"""

from __future__ import annotations

import math

import numpy as np

from ..evaluate import wilson_interval

__all__ = [
    "claim_verdict",
    "comparison_verdict",
    "excludes_zero",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_comparison",
    "seed_interval",
    "t_quantile",
    "wilson_interval",
]

RESAMPLES = 2000
SEED = 0
# Two-sided 95% quantiles of Student's t, by degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131)
_T975 += (2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (a table to 30, then 1.96 + 2.37/df).

    >>> t_quantile(2), t_quantile(30), round(t_quantile(120), 3)
    (4.303, 2.042, 1.98)
    """
    if df < 1:
        raise ValueError("t_quantile needs at least one degree of freedom")
    return _T975[df - 1] if df <= len(_T975) else 1.959964 + 2.37 / df


def seed_interval(accuracies, ns) -> tuple[float, float]:
    """A 95% interval of a cell's seed-mean accuracy (fractions), including the seed-to-seed spread.

    The hull of (a) the t interval of the mean over seeds, ``mean ± t(S-1) · sd / sqrt(S)``, and (b)
    the Wilson interval of all seeds' items pooled; clipped to [0, 1]. (a) carries the spread between
    seeds, (b) keeps the interval from collapsing when the seeds happen to agree. One seed: its Wilson
    interval.

    >>> lo, hi = seed_interval([0.83, 0.85, 0.87], [200, 200, 200]); round(lo, 4), round(hi, 4)
    (0.8003, 0.8997)
    >>> seed_interval([1.0, 1.0], [16, 16]) == wilson_interval(32, 32)
    True
    """
    acc = np.asarray(accuracies, dtype=float)
    n = np.asarray(ns, dtype=float)
    pooled = wilson_interval(int(round(float((acc * n).sum()))), int(n.sum()))
    if acc.size < 2:
        return pooled
    half = t_quantile(acc.size - 1) * float(acc.std(ddof=1)) / math.sqrt(acc.size)
    mean = float(acc.mean())
    return (max(0.0, min(mean - half, pooled[0])), min(1.0, max(mean + half, pooled[1])))


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pairs: ``a_only`` items only A got right,
    ``b_only`` items only B got right (a binomial test of ``a_only`` out of their sum at 1/2).

    >>> mcnemar_exact(0, 0), mcnemar_exact(3, 3)
    (1.0, 1.0)
    >>> round(mcnemar_exact(10, 0), 6), round(mcnemar_exact(7, 2), 4)
    (0.001953, 0.1797)
    """
    m = a_only + b_only
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(a_only, b_only) + 1))
    return min(1.0, 2 * tail / 2**m)


def paired_bootstrap(
    diffs_by_seed, resamples: int = RESAMPLES, seed: int = SEED, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of a paired difference: the mean over seeds of the per-seed mean
    of ``diffs_by_seed[s]`` (per item, A minus B: -1, 0 or 1). Each resample draws the seeds with
    replacement, then, for each drawn seed, its items with replacement. Seeded: deterministic.

    >>> paired_bootstrap([[0, 0, 0, 0]])
    (0.0, 0.0)
    >>> lo, hi = paired_bootstrap([[1] * 20 + [0] * 80]); 0 < lo < 0.2 < hi
    True
    >>> paired_bootstrap([[1, 0, -1], [1, 1, 0]]) == paired_bootstrap([[1, 0, -1], [1, 1, 0]])
    True
    """
    seeds = [np.asarray(d, dtype=float) for d in diffs_by_seed if len(d)]
    if not seeds:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    s = len(seeds)
    picks = rng.integers(0, s, size=(resamples, s)) if s > 1 else np.zeros((resamples, 1), dtype=int)
    # item-resampled means of every seed for every (resample, draw) slot; a slot uses its drawn seed
    means = np.empty((s, resamples, s))
    for i, d in enumerate(seeds):
        flat = np.empty(resamples * s)
        step = max(1, 2_000_000 // d.size)  # rows per chunk: bounded memory for large evaluations
        for start in range(0, flat.size, step):
            rows = min(step, flat.size - start)
            flat[start : start + rows] = d[rng.integers(0, d.size, size=(rows, d.size))].mean(axis=1)
        means[i] = flat.reshape(resamples, s)
    values = means[picks, np.arange(resamples)[:, None], np.arange(s)[None, :]].mean(axis=1)
    a = (1 - level) / 2
    return (float(np.quantile(values, a)), float(np.quantile(values, 1 - a)))


def paired_comparison(pairs_by_seed, resamples: int = RESAMPLES, seed: int = SEED) -> dict | None:
    """Statistics of A vs B from ``pairs_by_seed``: per seed, a list of ``(a_correct, b_correct)`` for the
    items both answered. Returns ``difference_points`` (mean over seeds of A's minus B's accuracy),
    ``ci95`` (paired bootstrap, points), ``p_value`` (exact McNemar on the discordant pairs summed
    over seeds), ``n`` (paired items, all seeds) and ``n_seeds``; None without any pair.

    >>> c = paired_comparison([[(1, 0)] * 12 + [(1, 1)] * 8])
    >>> c["difference_points"], c["n"], c["p_value"] < 0.001, c["ci95"][0] > 0
    (60.0, 20, True, True)
    """
    seeds = [[(bool(a), bool(b)) for a, b in p] for p in pairs_by_seed if len(p)]
    if not seeds:
        return None
    diffs = [[int(a) - int(b) for a, b in p] for p in seeds]
    lo, hi = paired_bootstrap(diffs, resamples, seed)
    a_only = sum(1 for p in seeds for a, b in p if a and not b)
    b_only = sum(1 for p in seeds for a, b in p if b and not a)
    return {
        "difference_points": 100 * float(np.mean([np.mean(d) for d in diffs])),
        "ci95": [100 * lo, 100 * hi],
        "p_value": mcnemar_exact(a_only, b_only),
        "n": sum(len(p) for p in seeds),
        "n_seeds": len(seeds),
        "discordant": [a_only, b_only],
    }


def excludes_zero(ci) -> bool:
    """Whether a [low, high] interval lies entirely above or below 0 (False without an interval).

    >>> excludes_zero([0.5, 3.0]), excludes_zero([-2.0, 0.0]), excludes_zero(None)
    (True, False, False)
    """
    if ci is None or None in ci or any(isinstance(v, float) and math.isnan(v) for v in ci):
        return False
    return ci[0] > 0 or ci[1] < 0


def comparison_verdict(ci, expected_sign: int | None = None) -> str:
    """A comparison's verdict from its interval: without a paper direction ``a_higher``, ``b_higher`` or
    ``not_resolved``; with one (``expected_sign`` +1 when the paper has A above B, -1 below)
    ``supported``, ``contradicted`` or ``not_resolved``.

    >>> comparison_verdict([1, 4]), comparison_verdict([-4, -1]), comparison_verdict([-1, 4])
    ('a_higher', 'b_higher', 'not_resolved')
    >>> comparison_verdict([1, 4], -1), comparison_verdict([-4, -1], -1), comparison_verdict(None, 1)
    ('contradicted', 'supported', 'not_resolved')
    """
    if not excludes_zero(ci):
        return "not_resolved"
    sign = 1 if ci[0] > 0 else -1
    if expected_sign is None:
        return "a_higher" if sign > 0 else "b_higher"
    return "supported" if sign == expected_sign else "contradicted"


def claim_verdict(verdicts, quantifier: str = "every") -> str:
    """A claim's verdict from the verdicts of the comparisons it expects, each ``supported``,
    ``contradicted``, ``not_resolved`` (its interval includes 0, or there is none) or ``missing`` (a
    cell has no result). Rules in docs/report.md.

    ``every`` (the claim holds on each of its comparisons): ``contradicted`` when a resolved one goes
    the other way; else ``incomplete`` when one is missing; else ``supported`` when every one is
    resolved the expected way; ``mixed`` when some are and the rest are not resolved; ``not_resolved``
    when none is resolved.

    ``any`` (the claim holds on at least one): ``mixed`` when resolved ones go both ways; else
    ``supported`` when a resolved one goes the expected way; ``contradicted`` when a resolved one goes
    the other way; else (none resolved) ``incomplete`` when one is missing, ``not_resolved`` otherwise.

    A claim with no comparison to check is ``not_resolved``.

    >>> claim_verdict(["supported", "not_resolved", "not_resolved"])
    'mixed'
    >>> claim_verdict(["supported", "supported", "missing"]), claim_verdict(["supported", "contradicted"])
    ('incomplete', 'contradicted')
    >>> claim_verdict(["supported", "not_resolved"], "any"), claim_verdict(["supported", "contradicted"], "any")
    ('supported', 'mixed')
    >>> claim_verdict([]), claim_verdict(["missing"], "any")
    ('not_resolved', 'incomplete')
    """
    if quantifier not in ("every", "any"):
        raise ValueError(f"unknown quantifier {quantifier!r}: every or any")
    vs = list(verdicts)
    unknown = set(vs) - {"supported", "contradicted", "not_resolved", "missing"}
    if unknown:
        raise ValueError(f"unknown comparison verdict(s) {sorted(unknown)}")
    sup, con, missing = vs.count("supported"), vs.count("contradicted"), vs.count("missing")
    if quantifier == "every":
        if con:
            return "contradicted"
        if missing:
            return "incomplete"
        if vs and sup == len(vs):
            return "supported"
        return "mixed" if sup else "not_resolved"
    if sup and con:
        return "mixed"
    if sup:
        return "supported"
    if con:
        return "contradicted"
    return "incomplete" if missing else "not_resolved"
