"""Answers from a series of points (one server variant and workload, rising concurrency): whether
each point met the SLO, the capacity (the highest concurrency that meets it, interpolated between
measured points), and the knee (where more concurrency stops buying throughput)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

KNEE_DOUBLING_GAIN = 0.10  # doubling concurrency must add more than this share of throughput


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


def knee(points: Sequence[SeriesPoint]) -> int | None:
    """The concurrency after which doubling it adds less than 10% throughput while latency still
    grows (the first such point, compared with the first point at twice its concurrency or more);
    None when throughput keeps growing or there are too few points."""
    ordered = sorted(points, key=lambda p: p.concurrency)
    for index, point in enumerate(ordered):
        doubled = next((p for p in ordered[index + 1:] if p.concurrency >= 2 * point.concurrency),
                       None)
        if doubled is None or point.throughput <= 0:
            continue
        gain = doubled.throughput / point.throughput - 1
        slower = (doubled.latency_ms is not None and point.latency_ms is not None
                  and doubled.latency_ms > point.latency_ms)
        if gain < KNEE_DOUBLING_GAIN and slower:
            return point.concurrency
    return None
