"""What a sweep spent beyond vLLM's own measured time: the whole wall time less the server starts'
ready times and the points' measured durations. With `sweep.parallel` above 1 the variants run
in lanes at once (variants.json's `slot`), so the physical limit is the longest lane's: its
ready times plus its points' durations (subtracting every lane's would count overlapping time
twice and can go negative). environment.json and bench/overhead.py both take it from here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Overhead:
    """The decomposition of a sweep's wall time along its longest lane."""

    lane: int  # the slot that took longest
    lanes: int
    ready_s: list[float]  # that lane's server starts
    measured_s: float  # vLLM's measured durations of that lane's points
    points: int  # that lane's points
    beyond_s: float  # the wall time less both

    @property
    def per_point_s(self) -> float:
        """beyond_s spread over the lane's points."""
        return self.beyond_s / max(1, self.points)


def beyond_vllm(wall_s: float, variants: Iterable[Mapping[str, Any]],
                rows: Iterable[Mapping[str, Any]]) -> Overhead:
    """`variants` as variants.json lists them (name, slot, ready_s), `rows` the points
    measured (variant, duration) as summary.json does."""
    lane_of = {v["name"]: v.get("slot") or 0 for v in variants}
    starts: dict[int, list[float]] = {lane: [] for lane in {*lane_of.values(), 0}}
    for v in variants:
        if v.get("ready_s"):
            starts[lane_of[v["name"]]].append(float(v["ready_s"]))
    durations: dict[int, list[float]] = {lane: [] for lane in starts}
    for row in rows:
        durations[lane_of.get(row["variant"], 0)].append(float(row.get("duration") or 0.0))
    lane = max(starts, key=lambda n: sum(starts[n]) + sum(durations[n]))
    measured = sum(durations[lane])
    return Overhead(lane, len(starts), starts[lane], measured, len(durations[lane]),
                    wall_s - sum(starts[lane]) - measured)
