"""The sweep matrix as records: server variants, workload variants and the points they make
(each with its file name, prompts and seed), as `expand` in sweep.py builds them."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config.model import Search, StackSpec, Workload

SIDES = ("server", "workload")
_KEY = re.compile(r"^(?P<variant>v\d+)/(?P<work>w\d+)-c(?P<c>\d+)(?:-q(?P<rate>[0-9.e+-]+))?"
                  r"-r(?P<r>\d+)\.json$")


@dataclass(frozen=True)
class ServerVariant:
    """One server setting of the sweep: its own server start."""

    index: int
    settings: dict[str, Any]  # field (or flags.NAME) -> value, as swept
    spec: StackSpec  # the config with these settings (workload as in the config)

    @property
    def name(self) -> str:
        """Its folder under raw/: v0, v1, ..."""
        return f"v{self.index}"


@dataclass(frozen=True)
class WorkloadVariant:
    """One workload setting of the sweep, as run against one server variant."""

    index: int
    settings: dict[str, Any]
    workload: Workload  # the workload with these settings (and any linked values)

    @property
    def name(self) -> str:
        """Its part of a point's name: w0, w1, ..."""
        return f"w{self.index}"


@dataclass(frozen=True)
class Point:
    """One measurement: a workload variant at one concurrency on one server variant."""

    variant: ServerVariant
    workload: WorkloadVariant
    concurrency: int
    repeat: int
    rate: float | None = None  # a request-rate search's probe: its requests/s

    @property
    def name(self) -> str:
        """Its result file name (unique within its server variant)."""
        rate = f"-q{self.rate:g}" if self.rate is not None else ""
        return f"{self.workload.name}-c{self.concurrency}{rate}-r{self.repeat}.json"

    @property
    def key(self) -> str:
        """Unique across the sweep: the variant's folder and the file name."""
        return f"{self.variant.name}/{self.name}"

    @property
    def prompts(self) -> int:
        """The prompts this point sends (workload.min_prompts_per_slot applied; a rate probe
        sends workload.num_prompts)."""
        if self.rate is not None:
            return self.workload.workload.num_prompts
        return self.workload.workload.prompts_at(self.concurrency)

    def seed(self, salt: str = "") -> int:
        """The dataset seed of this point: its own with workload.fresh_prompts (the same at the
        same point of every server variant; `salt` makes it one of a run's own, see
        stacks.bench_process.prompt_salt), else the workload's."""
        rate = f"/q{self.rate:g}" if self.rate is not None else ""
        return point_seed(self.workload.workload, f"{salt}{self.workload.name}/"
                                                  f"c{self.concurrency}{rate}/r{self.repeat}")


def point_seed(work: Workload, where: str) -> int:
    """A seed for the prompts sent at `where` (a point, or "warmup"): workload.seed itself
    without fresh_prompts (or for conversations, whose shared prefixes are what they measure),
    else one derived from it and `where`, so no two points send the same prompts."""
    if not work.fresh_per_point:
        return work.seed
    return zlib.crc32(f"{work.seed}/{where}".encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class Matrix:
    """The whole sweep, in run order."""

    variants: list[ServerVariant]
    workloads: dict[int, list[WorkloadVariant]]  # by server variant index (links differ)
    repeats: int
    parallel: int | str
    swept: dict[str, list[str]] = field(default_factory=dict)  # side -> keys that vary
    search: Search | None = None

    def points(self, variant: ServerVariant) -> list[Point]:
        """A server variant's points: each workload variant over its concurrencies, repeated;
        with a search, each workload variant's first probe (the rest follow from results)."""
        if self.search is not None:
            return [self.probe(variant, work, self.search.start, repeat)
                    for work in self.workloads[variant.index] for repeat in range(self.repeats)]
        return [
            Point(variant, work, concurrency, repeat)
            for work in self.workloads[variant.index]
            for concurrency in work.workload.concurrency_points
            for repeat in range(self.repeats)
        ]

    def probe(self, variant: ServerVariant, work: WorkloadVariant, value: float,
              repeat: int = 0) -> Point:
        """A search's probe at `value` (a concurrency, or a request rate at the search's
        max_concurrency); `repeat` counts the runs of that value before it (a probe is
        `repeats` runs; a failure probed again runs `repeats` more)."""
        assert self.search is not None
        if self.search.over == "concurrency":
            return Point(variant, work, int(value), repeat)
        return Point(variant, work, self.search.max_concurrency, repeat, rate=value)

    def point_of(self, key: str) -> Point | None:
        """The point a result key (`v0/w0-c8-r0.json`, a probe's `v0/w0-c256-q2.5-r0.json`)
        names, or None."""
        match = _KEY.match(key)
        if match is None:
            return None
        variant = next((v for v in self.variants if v.name == match["variant"]), None)
        if variant is None:
            return None
        work = next((w for w in self.workloads[variant.index] if w.name == match["work"]), None)
        if work is None:
            return None
        rate = float(match["rate"]) if match["rate"] else None
        return Point(variant, work, int(match["c"]), int(match["r"]), rate)

    @property
    def all_points(self) -> list[Point]:
        """Every point of every variant, in run order."""
        return [p for v in self.variants for p in self.points(v)]

    def as_json(self) -> dict[str, Any]:
        """What the run folder keeps to resume the same matrix (sweep.json)."""
        return {
            "variants": [{"name": v.name, "settings": v.settings} for v in self.variants],
            "points": [p.key for p in self.all_points],
            "repeats": self.repeats,
            "parallel": self.parallel,
            "search": self.search.model_dump() if self.search else None,
        }
