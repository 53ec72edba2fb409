"""What a server variant's bench process runs next, decided from each point as it comes home:
a capacity search's next probe (analysis/search.py), or, in a grid, the higher points of a
series that is saturated and failing the SLO, skipped (the time saved told)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.analysis.search import Probe, Step, next_step, saturated
from orchestrator.config.model import DEFAULT_SATURATION_GAIN, Slo
from orchestrator.config.sweep_matrix import Matrix, Point, ServerVariant
from orchestrator.results.bench_records import PERCENTILES
from orchestrator.results.sweep_records import VariantRecord
from orchestrator.stacks.bench_process import BenchProcess


@dataclass
class Steering:
    """One variant's steering; `after` is called with each point's summary row."""

    matrix: Matrix
    variant: ServerVariant
    record: VariantRecord
    say: Callable[[str], None]
    wall_s: Callable[[Point], float | None]  # a measured point's wall time
    skip_saturated: bool = True
    on_count: Callable[[int], None] = lambda more: None  # points added (+) or skipped (-)
    probes: dict[str, list[Probe]] = field(default_factory=dict)  # a search's, by workload
    # A search's runs of the probe under way, by workload (a probe is `repeats` runs).
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # a grid's, by point name
    open: set[str] = field(default_factory=set)  # workloads whose search goes on

    def __post_init__(self) -> None:
        if self.matrix.search is not None:  # each workload's search is open until answered
            self.open = {w.name for w in self.matrix.workloads[self.variant.index]}
            self.record.search = {}

    @property
    def steers_grid(self) -> bool:
        """Whether a grid's process must wait for each point to be seen (an SLO to fail and
        skip_saturated on)."""
        slo = self.variant.spec.workload.slo
        return (self.matrix.search is None and self.skip_saturated
                and any(v is not None for v in (slo.ttft_ms, slo.tpot_ms, slo.e2el_ms)))

    def after(self, point: Point, row: dict[str, Any], bench: BenchProcess) -> None:
        """React to a point home: the next probe, the search's answer, or points to skip."""
        if self.matrix.search is not None:
            self._search(point, row, bench)
        elif self.steers_grid:
            self._grid(point, row, bench)
            bench.seen(point)

    def _search(self, point: Point, row: dict[str, Any], bench: BenchProcess) -> None:
        search = self.matrix.search
        assert search is not None
        work = point.workload
        value = point.rate if point.rate is not None else float(point.concurrency)
        runs = self.runs.setdefault(work.name, [])
        runs.append(row)
        repeats = self.matrix.repeats
        if len(runs) < repeats:  # the probe's other runs are still to come home
            return
        self.runs[work.name] = []
        probes = self.probes.setdefault(work.name, [])
        probes.append(pooled(value, runs, work.workload.slo))
        step = next_step(probes, search.start, search.max, search.resolution,
                         search.saturation_gain, whole=search.over == "concurrency")
        label = f"{self.variant.name} {work.name}"
        if step.next is not None:
            self.say(f"{label}: next probe {_what(search.over, step.next)} ({step.reason})")
            again = sum(p.value == step.next for p in probes)
            for repeat in range(again * repeats, (again + 1) * repeats):
                bench.add(self.matrix.probe(self.variant, work, step.next, repeat))
            self.on_count(repeats)
            return
        assert self.record.search is not None
        self.record.search[work.name] = _answer(search.over, probes, step, repeats)
        capacity = ("none" if step.capacity is None
                    else _what(search.over, step.capacity))
        self.say(f"{label}: capacity {capacity} after {len(probes)} probe(s): {step.reason}"
                 + "".join(f"; {note}" for note in step.notes))
        self.open.discard(work.name)
        if not self.open:
            bench.end()

    def _grid(self, point: Point, row: dict[str, Any], bench: BenchProcess) -> None:
        if point.repeat or row.get("slo_met") is None:
            return
        self.rows[point.name] = row
        work = point.workload
        series = sorted((p for p in self.matrix.points(self.variant)
                         if p.workload.index == work.index and p.repeat == 0
                         and p.name in self.rows), key=lambda p: p.concurrency)
        for before, after in itertools.pairwise(series):
            b_row, a_row = self.rows[before.name], self.rows[after.name]
            if a_row.get("slo_met") or not saturated(_probe(before, b_row), _probe(after, a_row),
                                                     DEFAULT_SATURATION_GAIN):
                continue
            later = [p for p in self.matrix.points(self.variant)
                     if p.workload.index == work.index and p.concurrency > after.concurrency
                     and p.name not in bench.done | bench.skipped]
            if not later:
                return
            bench.skip(later)
            self.on_count(-len(later))
            wall = self.wall_s(after)
            saved = (wall / after.prompts * sum(p.prompts for p in later)) if wall else None
            self.record.skipped += [p.name for p in later]
            self.record.saved_s = round((self.record.saved_s or 0.0) + (saved or 0.0), 1)
            concurrencies = sorted({p.concurrency for p in later})
            self.say(f"{self.variant.name} {work.name}: saturated at c{after.concurrency} and"
                     f" failing the SLO: skipping c{', c'.join(map(str, concurrencies))}"
                     + (f" (about {saved:.0f} s saved)" if saved else ""))
            return


def pooled(value: float, rows: list[dict[str, Any]], slo: Slo) -> Probe:
    """A probe from its runs' summary rows: passed when the requests of all runs together
    met the SLO at its attainment and none failed; throughput, TTFT and levels averaged."""
    completed = sum(int(r.get("completed") or 0) for r in rows)
    good = sum((r.get("request_goodput") or 0.0) * (r.get("duration") or 0.0) for r in rows)
    met = all(r.get("slo_met") is not None for r in rows) and completed > 0 and (
        good / completed >= slo.attainment)
    levels = [slo_levels(r, slo) for r in rows]
    return Probe(value, met and not any(r.get("failed") for r in rows),
                 _mean([r.get("output_throughput") for r in rows]),
                 _mean([r.get("mean_ttft_ms") for r in rows]),
                 tuple(sum(x) / len(x) for x in zip(*levels, strict=True))
                 if all(levels) else ())


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float)]
    return sum(numbers) / len(numbers) if len(numbers) == len(values) and numbers else None


def slo_levels(row: dict[str, Any], slo: Slo) -> tuple[float, ...]:
    """Each SLO target's measured percentile over the target (the lowest asked percentile at
    or above the attainment: p90 for 0.9); () when one is missing."""
    pct = next((p for p in PERCENTILES if p >= slo.attainment * 100), PERCENTILES[-1])
    levels = []
    for metric, target in (("ttft", slo.ttft_ms), ("tpot", slo.tpot_ms), ("e2el", slo.e2el_ms)):
        if target is None:
            continue
        measured = row.get(f"p{pct}_{metric}_ms")
        if not isinstance(measured, int | float):
            return ()
        levels.append(measured / target)
    return tuple(levels)


def _probe(point: Point, row: dict[str, Any]) -> Probe:
    return Probe(float(point.concurrency), bool(row.get("slo_met")),
                 row.get("output_throughput"), row.get("mean_ttft_ms"))


def _what(over: str, value: float) -> str:
    return f"c{value:g}" if over == "concurrency" else f"{value:g} req/s"


def _answer(over: str, probes: list[Probe], step: Step, runs: int) -> dict[str, Any]:
    """variants.json's search record of one workload: the probes in order (each `runs` runs,
    pooled) and the answer."""
    return {"over": over, "runs_per_probe": runs, "capacity": step.capacity, "above": step.above,
            "stopped": step.reason, "saturated_at": step.saturated_at, "notes": step.notes,
            "probes": [{"value": p.value, "passed": p.passed, "output_throughput": p.throughput,
                        "mean_ttft_ms": p.ttft_ms, "slo_levels": [round(x, 3) for x in p.levels]}
                       for p in probes]}
