"""Statistics for comparisons: can two variants' mean accuracies be told apart from seed noise?

:func:`welch_test` is Welch's unequal-variances t-test from summary statistics (mean, sample sd,
n), as ``scipy.stats.ttest_ind_from_stats(..., equal_var=False)`` computes it: the t statistic,
the Welch-Satterthwaite degrees of freedom and the two-sided p-value from Student's t distribution
(through the regularized incomplete beta function, :func:`betainc`, evaluated by its continued
fraction: Press et al., *Numerical Recipes*, 3rd ed., section 6.4); :func:`holm` adjusts the
p-values of a table's rows tested against its best, and :func:`mean_sd` gives the mean and sample sd
that feed them. A comparison table marks two variants whose difference such a test cannot
distinguish from noise (adjusted p >= 0.05), so that a reader does not take a ranking of seed noise
for a result.

>>> round(welch_test(0.9, 0.01, 5, 0.9, 0.01, 5).p, 6)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["WelchResult", "betainc", "holm", "mean_sd", "welch_test"]

NEGLIGIBLE = 1e-12  # relative: a difference of means this small against them is a float's residue, not data


@dataclass(frozen=True)
class WelchResult:
    """Welch's t statistic, its degrees of freedom and the two-sided p-value."""

    t: float
    df: float
    p: float


def welch_test(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int) -> WelchResult:
    """Welch's two-sided t-test of equal means from each sample's mean, sample sd (ddof 1) and size.

    Raises ValueError when a sample has fewer than 2 values (no sd). Two samples without any spread
    give p = 1 for equal means, and for different means no test at all: t infinite, df and p NaN, as
    scipy's ``ttest_ind_from_stats`` gives (helper-258: p = 0 called two seeds that tied on 200 test
    images, 83.5% twice, "below" 85.5% twice). A difference of means below :data:`NEGLIGIBLE`
    times the larger mean counts as 0 (p = 1): ten runs of 0.126 average to 0.12599999999999997
    with an sd of 3e-17, which scipy's test calls different from two runs of 0.126 (p = 0.015;
    helper-215). :func:`mean_sd` gives such runs their exact mean and sd 0 to begin with.
    """
    if n1 < 2 or n2 < 2:
        raise ValueError(f"Welch's test needs at least 2 values per sample, got {n1} and {n2}")
    v1, v2 = sd1 * sd1 / n1, sd2 * sd2 / n2
    diff = 0.0 if abs(mean1 - mean2) <= NEGLIGIBLE * max(abs(mean1), abs(mean2)) else mean1 - mean2
    if v1 + v2 == 0:
        if diff == 0:
            return WelchResult(0.0, float(n1 + n2 - 2), 1.0)
        return WelchResult(math.copysign(math.inf, diff), math.nan, math.nan)
    t = diff / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    p = betainc(df / 2, 0.5, df / (df + t * t))  # P(|T| >= |t|) for Student's t with df degrees of freedom
    return WelchResult(t, df, min(max(p, 0.0), 1.0))


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """The mean and the sample sd (ddof 1; None for one value) of ``values`` (at least one), each
    exact where the values are all equal (``np.mean([0.126] * 10)`` is 0.12599999999999997 and its sd
    3e-17: helper-215), else from correctly rounded sums (:func:`math.fsum`). ValueError for none."""
    if not values:
        raise ValueError("mean_sd needs at least one value")
    vals = [float(v) for v in values]
    if all(v == vals[0] for v in vals):
        return vals[0], (0.0 if len(vals) > 1 else None)
    mean = math.fsum(vals) / len(vals)
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (one family of tests), in their order: the k-th
    smallest of m is multiplied by m - k + 1, capped at 1, and made no smaller than the one before
    it (Holm 1979, "A simple sequentially rejective multiple test procedure"; what
    ``statsmodels.stats.multitest.multipletests(p, method="holm")`` returns). Rejecting where an
    adjusted p is below alpha keeps the chance of any false rejection at most alpha.

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    m, adjusted, running = len(pvalues), [0.0] * len(pvalues), 0.0
    for k, i in enumerate(sorted(range(m), key=lambda j: pvalues[j])):
        running = max(running, min(1.0, (m - k) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].

    Its continued fraction (modified Lentz), on the side where it converges fast: I_x(a, b) =
    1 - I_{1-x}(b, a) when x > (a + 1) / (a + b + 2). Accurate to ~1e-12 for the arguments a t-test
    gives.
    """
    if not (a > 0 and b > 0 and 0.0 <= x <= 1.0):
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1, got a={a}, b={b}, x={x}")
    if x in (0.0, 1.0):
        return x
    if x > (a + 1) / (a + b + 2):
        return 1.0 - betainc(b, a, 1.0 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    return math.exp(log_front) * _beta_fraction(a, b, x) / a


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes' ``betacf``)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h
