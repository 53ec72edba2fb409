"""Capacity by search: the next value to probe from the probes so far, and why a search stops.

Start at `start`; while every probe passes the SLO, double (up to `max`); after the first
failure, bisect between the highest pass below it and the lowest failure until the two are
`resolution` apart; when even `start` fails, halve down to the smallest value. The capacity is
the highest pass, bracketed by the lowest failure above it. The first failure is probed once
more before it is believed (the second run's verdict stands): it ends the doubling, so one run
that holds a one-time stall would cut the answer by up to half (an H200 run failed its first
probe on a single 0.5 s stall, then passed ten times that load); a later false failure only
narrows a bracket already found.
Saturation (throughput gaining under a share of the load's growth while TTFT grows) is told
beside the answer: past it, more load buys queueing, not throughput.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Probe:
    """One probe's outcome."""

    value: float  # a concurrency, or requests/s
    passed: bool  # the SLO's attainment met
    throughput: float | None = None  # output tokens/s
    ttft_ms: float | None = None  # mean


@dataclass
class Step:
    """What the search does next: probe `next`, or stop (next None) with its answer."""

    next: float | None
    reason: str
    capacity: float | None = None  # the highest pass (None: even the first probe failed)
    above: float | None = None  # the lowest failure above it (None: none failed)
    saturated_at: float | None = None
    notes: list[str] = field(default_factory=list)


def saturated(before: Probe, after: Probe, share: float) -> bool:
    """Whether going from `before` to `after` (more load) gained throughput under `share` of
    the load's growth while TTFT grew."""
    if not (before.throughput and after.throughput and before.ttft_ms and after.ttft_ms):
        return False
    growth = after.value / before.value - 1
    gain = after.throughput / before.throughput - 1
    return growth > 0 and gain < share * growth and after.ttft_ms > before.ttft_ms


def next_step(probes: list[Probe], start: float, maximum: float, resolution: float,
              share: float, whole: bool) -> Step:
    """The next probe after `probes` (in the order run), or the answer; `whole`: values are
    whole numbers (concurrency). A value probed twice is judged by its second run."""
    if not probes:
        return Step(start, "first probe")
    last = probes[-1]
    if not last.passed and not any(not p.passed for p in probes[:-1]):
        return Step(last.value, f"confirming the first failure, at {_fmt(last.value)}")
    verdicts = {p.value: p for p in probes}  # the later run of a value wins
    ordered = sorted(verdicts.values(), key=lambda p: p.value)
    saturation = next((b.value for a, b in itertools.pairwise(ordered)
                       if saturated(a, b, share)), None)
    notes = [f"saturated from {_fmt(saturation)}: throughput gained under"
             f" {share:.0%} of the load's growth while TTFT grew"] if saturation else []
    failures = [p.value for p in ordered if not p.passed]
    if not failures:
        top = ordered[-1].value
        if top >= maximum:
            return Step(None, f"every probe passed up to sweep.search.max = {_fmt(maximum)}",
                        top, None, saturation, notes)
        return Step(_round(min(top * 2, maximum), whole), "doubling: every probe passed",
                    saturated_at=saturation, notes=notes)
    above = failures[0]
    passes = [p.value for p in ordered if p.passed and p.value < above]
    if not passes:
        lowest = 1.0 if whole else resolution
        if above > lowest:
            return Step(_round(max(lowest, above / 2), whole),
                        f"halving: {_fmt(above)} fails the SLO", saturated_at=saturation,
                        notes=notes)
        return Step(None, f"even {_fmt(above)} fails the SLO", None, above, saturation, notes)
    below = passes[-1]
    middle = _round((below + above) / 2, whole)
    if above - below <= resolution or not below < middle < above:
        return Step(None, f"bracketed: {_fmt(below)} passes, {_fmt(above)} fails"
                    f" (resolution {_fmt(resolution)})", below, above, saturation, notes)
    return Step(middle, f"bisecting between {_fmt(below)} (passes) and {_fmt(above)} (fails)",
                saturated_at=saturation, notes=notes)


def most_probes(start: float, maximum: float, resolution: float) -> int:
    """The probes a search of this range takes when the load it holds is under `max`
    (doublings, bisections and one confirmation of the first failure; more when failures need
    confirming again or even `start` fails)."""
    doublings, value = 1, start
    while value < maximum:
        value *= 2
        doublings += 1
    width, halvings = max(maximum / 2, start), 0
    while width > resolution:
        width /= 2
        halvings += 1
    return doublings + halvings + 1


def _round(value: float, whole: bool) -> float:
    return float(int(value)) if whole else round(value, 3)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
