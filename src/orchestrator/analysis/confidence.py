"""How sure an answer is: a mean with its 95% interval over repeated runs (Student's t), the
coefficient of variation, and the tests `compare` uses to tell a change from noise
(Mann-Whitney U on per-request latencies, Welch's t on repeated throughputs, a bootstrap
interval when each side has one run)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

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
    half = float(stats.t.ppf(1 - ALPHA / 2, len(clean) - 1)) * sd / math.sqrt(len(clean))
    return Interval(mean, half, len(clean), sd / mean if mean else None)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The two-sided p-value that two samples come from one distribution (None when either
    has fewer than 3 values)."""
    if len(a) < 3 or len(b) < 3:
        return None
    if len(set(a) | set(b)) == 1:  # all equal: no difference to find
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The two-sided p-value of Welch's t-test on two sets of repeated runs (None when either
    has fewer than 2)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


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
