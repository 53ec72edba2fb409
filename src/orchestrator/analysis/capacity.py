"""Answers from a series of points (one server variant and workload, rising concurrency): whether
each point met the SLO, the capacity (the highest concurrency that meets it, interpolated between
measured points), and the knee (where more concurrency stops buying throughput)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Past the knee, an added request buys less than this share of the throughput a request gets
# at the lowest concurrency.
KNEE_MARGINAL_SHARE = 0.10


@dataclass(frozen=True)
class SeriesPoint:
    """What the answers need from one point."""

    concurrency: int
    throughput: float  # output tokens/s
    latency_ms: float | None  # the latency that grows past the knee (mean E2E, else TTFT)
    attainment: float | None  # share of requests that met every SLO (None: no SLO)


@dataclass(frozen=True)
class Capacity:
    """The highest concurrency meeting the SLO, and how it was found."""

    concurrency: float
    how: str  # measured, interpolated, at least (every point met it), none (no point met it)

    def text(self) -> str:
        """For tables: `4`, `~5.3 (interpolated)`, `>= 32`, `none`."""
        if self.how == "none":
            return "none"
        if self.how == "at least":
            return f">= {self.concurrency:g}"
        if self.how == "interpolated":
            return f"~{self.concurrency:.1f} (interpolated)"
        return f"{self.concurrency:g}"


def attainment(goodput: float | None, duration: float | None, completed: int | None) -> float | None:
    """The share of completed requests that met every SLO, from vLLM's goodput (requests/s
    that met them all) and the point's duration."""
    if goodput is None or not duration or not completed:
        return None
    return max(0.0, min(1.0, goodput * duration / completed))


def slo_met(point: SeriesPoint, share: float) -> bool | None:
    """Whether at least `share` of the point's requests met the SLO (None without an SLO)."""
    return None if point.attainment is None else point.attainment >= share


def capacity(points: Sequence[SeriesPoint], share: float) -> Capacity | None:
    """The highest concurrency meeting the SLO: the last met point, or between it and the first
    point that misses it where attainment crosses `share` (linear in concurrency). None
    without an SLO."""
    ordered = sorted(points, key=lambda p: p.concurrency)
    if not ordered or any(p.attainment is None for p in ordered):
        return None
    met = [p for p in ordered if p.attainment is not None and p.attainment >= share]
    if not met:
        return Capacity(0, "none")
    last = met[-1]
    after = next((p for p in ordered if p.concurrency > last.concurrency), None)
    if after is None:
        return Capacity(last.concurrency, "at least")
    assert last.attainment is not None and after.attainment is not None
    drop = last.attainment - after.attainment
    if drop <= 0:
        return Capacity(last.concurrency, "measured")
    fraction = (last.attainment - share) / drop
    at = last.concurrency + fraction * (after.concurrency - last.concurrency)
    if at <= last.concurrency:
        return Capacity(last.concurrency, "measured")
    return Capacity(at, "interpolated")


@dataclass(frozen=True)
class Knee:
    """Where more concurrency stops buying throughput, and why it was called there."""

    concurrency: int
    reason: str


def monotone(values: Sequence[float]) -> list[float]:
    """The closest non-decreasing sequence (least squares: pool adjacent violators), so that
    a noisy dip is not read as the end of growth."""
    blocks: list[list[float]] = []  # [sum, count]
    for value in values:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return [total / count for total, count in blocks for _ in range(int(count))]


def knee(points: Sequence[SeriesPoint]) -> Knee | None:
    """The concurrency after which each added request buys less than KNEE_MARGINAL_SHARE of
    the throughput one request gets at the lowest concurrency, on a monotone fit of throughput,
    at every later step, while latency still grows. None when throughput keeps paying, or with
    fewer than two points."""
    ordered = sorted(points, key=lambda p: p.concurrency)
    if len(ordered) < 2 or ordered[0].throughput <= 0:
        return None
    fit = monotone([p.throughput for p in ordered])
    initial = fit[0] / ordered[0].concurrency  # tokens/s one request buys at the start
    slopes = [(fit[i + 1] - fit[i]) / (ordered[i + 1].concurrency - ordered[i].concurrency)
              for i in range(len(ordered) - 1)]
    limit = KNEE_MARGINAL_SHARE * initial
    for index, point in enumerate(ordered[:-1]):
        if all(slope < limit for slope in slopes[index:]):
            last = ordered[-1]
            if (last.latency_ms is None or point.latency_ms is None
                    or last.latency_ms <= point.latency_ms):
                return None  # flat throughput without growing latency: no saturation seen
            return Knee(point.concurrency,
                        f"past concurrency {point.concurrency} each added request buys"
                        f" {max(slopes[index:]):.3g} tok/s or less, under"
                        f" {KNEE_MARGINAL_SHARE:.0%} of the {initial:.3g} tok/s one request"
                        " gets at the lowest concurrency (monotone fit), while latency grows")
    return None
