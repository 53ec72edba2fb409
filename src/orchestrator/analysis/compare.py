"""Two runs side by side: their matching points (same server and workload settings, same
concurrency; repeats pooled) and each metric's change, tested against noise (per-request
latencies, repeated throughputs) and judged against a regression threshold."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean
from typing import Any

from orchestrator.analysis.confidence import ALPHA, bootstrap_ratio, mann_whitney, welch
from orchestrator.analysis.steady import Request

DEFAULT_METRICS = ("output_throughput", "mean_ttft_ms", "mean_tpot_ms")
SETTING_PREFIXES = ("server.", "workload.")


@dataclass(frozen=True)
class Change:
    """One metric of one matched point in both runs (means over their repeats), and whether
    the change stands out of the noise."""

    point: str  # the point's settings and concurrency, in words
    metric: str
    before: float
    after: float
    test: str = "untested"  # mann-whitney, welch, bootstrap, or untested (no per-request data)
    p_value: float | None = None
    interval: tuple[float, float] | None = None  # the change's 95% bootstrap interval

    @property
    def delta(self) -> float:
        """The relative change (after / before - 1); 0 when both are 0."""
        if self.before == 0:
            return 0.0 if self.after == 0 else float("inf")
        return self.after / self.before - 1

    @property
    def worse(self) -> float:
        """How much worse it got, as a share (negative: better): latencies (…_ms) grow worse,
        everything else (throughput, goodput) shrinks worse."""
        return self.delta if lower_is_better(self.metric) else -self.delta

    @property
    def significant(self) -> bool:
        """Whether the change is beyond noise at 95% (an untested change counts as real, as
        before there were tests: the table says it was not tested)."""
        if self.p_value is not None:
            return self.p_value < ALPHA
        if self.interval is not None:
            return not self.interval[0] <= 0 <= self.interval[1]
        return True

    def evidence(self) -> str:
        """`p=0.003 (mann-whitney)`, `[-12.1%, -3.4%] (bootstrap)` or `untested`."""
        if self.p_value is not None:
            return f"p={self.p_value:.3g} ({self.test})"
        if self.interval is not None:
            return f"[{self.interval[0]:+.1%}, {self.interval[1]:+.1%}] ({self.test})"
        return self.test


@dataclass(frozen=True)
class Comparison:
    """Every matched point's changes, and which regress beyond the threshold."""

    changes: list[Change]
    matched: int
    only_a: int
    only_b: int

    def regressions(self, threshold: float) -> list[Change]:
        """Significant changes worse than `threshold` (a share: 0.05 is 5%)."""
        return [c for c in self.changes if c.worse > threshold and c.significant]


def lower_is_better(metric: str) -> bool:
    """Latencies are better lower; rates better higher."""
    return metric.endswith("_ms")


def point_key(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """What identifies a point across runs: its settings and concurrency (its repeats pool)."""
    settings = sorted((k, json.dumps(v)) for k, v in row.items() if k.startswith(SETTING_PREFIXES))
    return (*settings, ("concurrency", str(row.get("concurrency"))))


def describe(key: tuple[tuple[str, str], ...]) -> str:
    """A point's key in words: `max_num_seqs=8 output_len=128 c4`."""
    parts = [f"{k.split('.', 1)[1]}={json.loads(v)}" for k, v in key
             if k.startswith(SETTING_PREFIXES)]
    parts.append(f"c{dict(key)['concurrency']}")
    return " ".join(parts)


Samples = Callable[[dict[str, Any]], list[Request] | None]


def compare(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]],
            metrics: tuple[str, ...] = DEFAULT_METRICS, samples_a: Samples | None = None,
            samples_b: Samples | None = None) -> Comparison:
    """Match the runs' points (repeats pooled) and collect each metric's change, tested
    against noise with the per-request times `samples_*` reads from a row's raw file."""
    by_key_a: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
    by_key_b: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
    for rows, by_key in ((rows_a, by_key_a), (rows_b, by_key_b)):
        for row in rows:
            by_key.setdefault(point_key(row), []).append(row)
    shared = [k for k in by_key_a if k in by_key_b]
    changes = []
    for key in shared:
        group_a, group_b = by_key_a[key], by_key_b[key]
        requests_a = _requests(group_a, samples_a)
        requests_b = _requests(group_b, samples_b)
        for metric in metrics:
            before, after = _values(group_a, metric), _values(group_b, metric)
            if not before or not after:
                continue
            changes.append(Change(describe(key), metric, mean(before), mean(after),
                                  *_test(metric, before, after, requests_a, requests_b)))
    return Comparison(changes, len(shared), len(by_key_a) - len(shared),
                      len(by_key_b) - len(shared))


def _values(rows: list[dict[str, Any]], metric: str) -> list[float]:
    return [float(r[metric]) for r in rows if isinstance(r.get(metric), int | float)]


def _requests(rows: list[dict[str, Any]], samples: Samples | None) -> list[Request] | None:
    if samples is None:
        return None
    pooled: list[Request] = []
    for row in rows:
        found = samples(row)
        if found is None:
            return None
        pooled += [r for r in found if r.ok]
    return pooled


# A latency metric's per-request values (ms), by the latency it names (mean_ttft_ms: ttft).
_PER_REQUEST: dict[str, Callable[[list[Request]], list[float]]] = {
    "ttft": lambda rs: [r.ttft * 1000 for r in rs],
    "tpot": lambda rs: [t * 1000 for r in rs if (t := r.tpot) is not None],
    "itl": lambda rs: [g * 1000 for r in rs for g in r.itls],
    "e2el": lambda rs: [(r.end - r.start) * 1000 for r in rs],
}


def _per_request(metric: str, requests: list[Request]) -> list[float] | None:
    """The per-request values behind a latency metric (ms); None for other metrics."""
    latency = metric.rsplit("_", 2)[-2] if metric.endswith("_ms") else ""
    values = _PER_REQUEST.get(latency)
    return values(requests) if values else None


def _test(metric: str, before: list[float], after: list[float], requests_a: list[Request] | None,
          requests_b: list[Request] | None) -> tuple[str, float | None, tuple[float, float] | None]:
    """(test, p-value, interval) for one change; untested without the data for any test."""
    if lower_is_better(metric) and requests_a and requests_b:
        a, b = _per_request(metric, requests_a), _per_request(metric, requests_b)
        if a and b and (p := mann_whitney(a, b)) is not None:
            return "mann-whitney", p, None
    if len(before) > 1 and len(after) > 1 and (p := welch(before, after)) is not None:
        return "welch", p, None
    if not lower_is_better(metric) and requests_a and requests_b:
        # Little's law per request: its output tokens over its latency; a point's throughput
        # is its concurrency times their mean, so at one concurrency their ratio is the
        # throughput's.
        rate_a = [r.output_len / (r.end - r.start) for r in requests_a if r.end > r.start]
        rate_b = [r.output_len / (r.end - r.start) for r in requests_b if r.end > r.start]
        if (found := bootstrap_ratio(rate_a, rate_b)) is not None:
            return "bootstrap", None, found
    return "untested", None, None
