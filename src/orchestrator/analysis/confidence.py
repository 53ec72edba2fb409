"""How sure an answer is: a mean with its 95% interval over repeated runs (Student's t), the
coefficient of variation, and the tests `compare` uses to tell a change from noise
(Mann-Whitney U on per-request latencies, Welch's t on repeated throughputs, a bootstrap
interval when each side has one run).

The distributions are computed here (Student's t from the regularized incomplete beta
function, the normal from erfc), with numpy only: SciPy is not on every host that runs a
benchmark (vLLM's images lack it), and these few functions are all that is needed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95  # every interval and test here
ALPHA = 1 - LEVEL
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0  # the same answer for the same files


@dataclass(frozen=True)
class Interval:
    """A mean over `n` runs with its 95% half-width (None with one run)."""

    mean: float
    half: float | None
    n: int
    cv: float | None  # standard deviation / mean

    @property
    def low(self) -> float:
        """The interval's lower end (the mean with one run)."""
        return self.mean - (self.half or 0.0)

    @property
    def high(self) -> float:
        """The interval's upper end (the mean with one run)."""
        return self.mean + (self.half or 0.0)

    def text(self, digits: int = 2) -> str:
        """`123.45 ± 6.78` (just the mean with one run)."""
        if self.half is None:
            return f"{self.mean:,.{digits}f}"
        return f"{self.mean:,.{digits}f} ± {self.half:,.{digits}f}"

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share any value."""
        return self.low <= other.high and other.low <= self.high


def interval(values: Sequence[float]) -> Interval | None:
    """The mean of `values` and its 95% t-interval; None without values."""
    clean = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not clean:
        return None
    mean = float(np.mean(clean))
    if len(clean) < 2:
        return Interval(mean, None, 1, None)
    sd = float(np.std(clean, ddof=1))
    half = t_quantile(1 - ALPHA / 2, len(clean) - 1) * sd / math.sqrt(len(clean))
    return Interval(mean, half, len(clean), sd / mean if mean else None)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The two-sided p-value that two samples come from one distribution (None when either
    has fewer than 3 values)."""
    if len(a) < 3 or len(b) < 3:
        return None
    if len(set(a) | set(b)) == 1:  # all equal: no difference to find
        return 1.0
    # U from the ranks (ties share their mean rank), then its normal approximation with the
    # tie and continuity corrections (what SciPy does for samples this large).
    values = np.concatenate([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inverse, ranks)
    ranks = (sums / counts)[inverse]
    n1, n2 = len(a), len(b)
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    n = n1 + n2
    ties = float((counts**3 - counts).sum())
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The two-sided p-value of Welch's t-test on two sets of repeated runs (None when either
    has fewer than 2)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    var_a, var_b = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = float((np.mean(a) - np.mean(b)) / math.sqrt(var_a + var_b))
    df = float((var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1)))
    return min(1.0, 2 * (1 - t_cdf(abs(t), df)))


def bootstrap_ratio(a: Sequence[float], b: Sequence[float]) -> tuple[float, float] | None:
    """The 95% bootstrap interval of mean(b) / mean(a) - 1, resampling each side's values
    (None when either has fewer than 3)."""
    if len(a) < 3 or len(b) < 3:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    means_a = rng.choice(first, (BOOTSTRAP_SAMPLES, len(first))).mean(axis=1)
    means_b = rng.choice(second, (BOOTSTRAP_SAMPLES, len(second))).mean(axis=1)
    ratios = means_b / np.where(means_a == 0, np.nan, means_a) - 1
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return None
    low, high = np.percentile(ratios, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(low), float(high)


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution's CDF at `t` with `df` degrees of freedom."""
    x = df / (df + t * t)
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, x)
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The value below which Student's t puts probability `p` (0.5 < p < 1), by bisection."""
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (Lentz's continued fraction)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):  # the fraction converges on the other side
        return 1 - _incomplete_beta(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return front * result / a
