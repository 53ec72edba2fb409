"""Capacity by search: the next value to probe from the probes so far, and why a search stops.

Start at `start`; while every probe passes the SLO, grow: double, unless the SLO's percentiles
(each target's measured percentile over the target, the probe's `levels`) extrapolate from the
two highest passes to their targets sooner: then probe there (at least one `resolution` on), so
that the expensive probe far past the answer is not run. After the first failure, narrow the
bracket between the highest pass below it and the lowest failure until the two are
`resolution` apart: at the load where the percentiles interpolate to their targets, kept off
the bracket's outer quarters; else at its middle. At most AIMED probes of a search are placed
by the percentiles (a curve they misjudge costs a few probes, never more than that); the
others double and bisect. When even `start` fails, halve down to the smallest value. The
capacity is the highest pass, bracketed by the lowest failure above it.
A first failure the percentiles did not foresee is probed once more before it is believed (the
second run's verdict stands): it ends the growth, so one run that holds a one-time stall would
cut the answer by up to half (an H200 run failed its first probe on a single 0.5 s stall, then
passed ten times that load); a later false failure only narrows a bracket already found.
Saturation (throughput gaining under a share of the load's growth while TTFT grows) is told
beside the answer: past it, more load buys queueing, not throughput.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

AIMED = 3  # probes a search places by the percentiles, at most
QUARTER = 0.25  # a narrowing probe stays this share of the bracket inside it


@dataclass(frozen=True)
class Probe:
    """One probe's outcome."""

    value: float  # a concurrency, or requests/s
    passed: bool  # the SLO's attainment met
    throughput: float | None = None  # output tokens/s
    ttft_ms: float | None = None  # mean
    # Each SLO target's measured percentile (the attainment's) over the target: 1.0 is at it.
    levels: tuple[float, ...] = ()


@dataclass
class Step:
    """What the search does next: probe `next`, or stop (next None) with its answer."""

    next: float | None
    reason: str
    capacity: float | None = None  # the highest pass (None: even the first probe failed)
    above: float | None = None  # the lowest failure above it (None: none failed)
    saturated_at: float | None = None
    notes: list[str] = field(default_factory=list)
    aimed: bool = False  # placed by the SLO's percentiles


def saturated(before: Probe, after: Probe, share: float) -> bool:
    """Whether going from `before` to `after` (more load) gained throughput under `share` of
    the load's growth while TTFT grew."""
    if not (before.throughput and after.throughput and before.ttft_ms and after.ttft_ms):
        return False
    growth = after.value / before.value - 1
    gain = after.throughput / before.throughput - 1
    return growth > 0 and gain < share * growth and after.ttft_ms > before.ttft_ms


def crossing(a: Probe, b: Probe) -> float | None:
    """The load at which the line through two probes' levels first reaches a target (1.0),
    over the targets whose level grows with the load; None when none does or levels are
    missing."""
    if a.value == b.value or not a.levels or len(a.levels) != len(b.levels):
        return None
    found = [a.value + (1 - la) * (b.value - a.value) / (lb - la)
             for la, lb in zip(a.levels, b.levels, strict=True)
             if (lb - la) / (b.value - a.value) > 0]
    return min(found, default=None)


def next_step(probes: list[Probe], start: float, maximum: float, resolution: float,
              share: float, whole: bool) -> Step:
    """The next probe after `probes` (in the order run), or the answer; `whole`: values are
    whole numbers (concurrency). A value probed twice is judged by its second run."""
    aimed = 0  # how many of the probes run were placed by the percentiles: replayed
    for ran in range(len(probes)):
        aimed += _decide(probes[:ran], start, maximum, resolution, share, whole, aimed).aimed
    return _decide(probes, start, maximum, resolution, share, whole, aimed)


def _decide(probes: list[Probe], start: float, maximum: float, resolution: float,
            share: float, whole: bool, aimed: int) -> Step:
    """next_step's decision, with `aimed` of the probes placed by the percentiles."""
    if not probes:
        return Step(start, "first probe")
    last = probes[-1]
    if not last.passed and not any(not p.passed for p in probes[:-1]):
        foreseen = _ahead(_verdicts(probes[:-1]))
        if foreseen is None or last.value < foreseen:
            return Step(last.value, f"confirming the first failure, at {_fmt(last.value)}")
    ordered = _verdicts(probes)
    saturation = next((b.value for a, b in itertools.pairwise(ordered)
                       if saturated(a, b, share)), None)
    notes = [f"saturated from {_fmt(saturation)}: throughput gained under"
             f" {share:.0%} of the load's growth while TTFT grew"] if saturation else []
    failures = [p for p in ordered if not p.passed]
    if not failures:
        return _grow(ordered, maximum, resolution, whole, saturation, notes, aimed < AIMED)
    above = failures[0]
    passes = [p for p in ordered if p.passed and p.value < above.value]
    if not passes:
        lowest = 1.0 if whole else resolution
        if above.value > lowest:
            return Step(_round(max(lowest, above.value / 2), whole),
                        f"halving: {_fmt(above.value)} fails the SLO", saturated_at=saturation,
                        notes=notes)
        return Step(None, f"even {_fmt(above.value)} fails the SLO", None, above.value,
                    saturation, notes)
    below = passes[-1]
    low, high = below.value, above.value
    done = Step(None, f"bracketed: {_fmt(low)} passes, {_fmt(high)} fails (resolution"
                f" {_fmt(resolution)})", low, high, saturation, notes)
    if high - low <= resolution:
        return done
    between = f"between {_fmt(low)} (passes) and {_fmt(high)} (fails)"
    guess = crossing(below, above) if aimed < AIMED else None
    if guess is not None:
        width = high - low
        # Within two steps of the resolution one probe can end it: where neither side of
        # the guess is left wider than a step; else stay off the bracket's quarters.
        lo, hi = ((high - resolution, low + resolution) if width <= 2 * resolution
                  else (low + QUARTER * width, high - QUARTER * width))
        value = _round(min(hi, max(lo, guess)), whole, nearest=True)
        if low < value < high:
            return Step(value, f"narrowing {between}: the SLO's percentiles interpolate to"
                        f" their targets near {_fmt(round(guess, 1))}", saturated_at=saturation,
                        notes=notes, aimed=True)
    middle = _round((low + high) / 2, whole)
    if not low < middle < high:
        return done
    return Step(middle, f"bisecting {between}", saturated_at=saturation, notes=notes)


def _grow(ordered: list[Probe], maximum: float, resolution: float, whole: bool,
          saturation: float | None, notes: list[str], aim: bool) -> Step:
    """Every probe passed: the next, larger load (or the answer at `maximum`); `aim`: the
    percentiles may place it."""
    top = ordered[-1].value
    if top >= maximum:
        return Step(None, f"every probe passed up to sweep.search.max = {_fmt(maximum)}",
                    top, None, saturation, notes)
    doubled = min(top * 2, maximum)
    ahead = _ahead(ordered) if aim else None
    if ahead is not None and ahead < doubled:
        value = _round(max(ahead, top + resolution), whole, up=True)
        if top < value < doubled:
            return Step(value, f"growing: the SLO's percentiles extrapolate to their targets"
                        f" near {_fmt(round(ahead, 1))}", saturated_at=saturation, notes=notes,
                        aimed=True)
    return Step(_round(doubled, whole), "doubling: every probe passed",
                saturated_at=saturation, notes=notes)


def _verdicts(probes: list[Probe]) -> list[Probe]:
    """One probe per value (the later run of a value wins), by value."""
    return sorted({p.value: p for p in probes}.values(), key=lambda p: p.value)


def _ahead(ordered: list[Probe]) -> float | None:
    """Where the two highest passes' levels extrapolate to a target (None: unknown)."""
    passes = [p for p in ordered if p.passed]
    return crossing(passes[-2], passes[-1]) if len(passes) >= 2 else None


def most_probes(start: float, maximum: float, resolution: float) -> int:
    """The probes a search of this range takes at most when the load it holds is under `max`:
    doublings, halvings of the bracket, one confirmation of the first failure and the AIMED
    probes the percentiles place (more when failures need confirming again or even `start`
    fails)."""
    doublings, value = 1, start
    while value < maximum:
        value *= 2
        doublings += 1
    width, halvings = max(maximum / 2, start), 0
    while width > resolution:
        width /= 2
        halvings += 1
    return doublings + halvings + 1 + AIMED


def _round(value: float, whole: bool, up: bool = False, nearest: bool = False) -> float:
    if not whole:
        return round(value, 3)
    return float(math.ceil(value) if up else round(value) if nearest else int(value))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
