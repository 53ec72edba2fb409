"""Capacity by search: the probes it picks, when it stops and what it answers (against a grid
over the same range), the bench process's control file, and the refusals before start."""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import pytest

from orchestrator.analysis.search import AIMED, Probe, crossing, most_probes, next_step, saturated
from orchestrator.resources import data_dir


def _server(capacity: float, saturates_at: float = 1e9):
    """A stand-in server's outcome at a load: passes the SLO up to `capacity`; throughput
    grows with the load until `saturates_at`, TTFT grows after it."""
    def probe(value: float) -> Probe:
        throughput = 100 * min(value, saturates_at)
        ttft = 10 + max(0.0, value - saturates_at) * 5
        return Probe(value, value <= capacity, throughput, ttft)
    return probe


def _levelled(capacity: float, curve=lambda v: 50 + 2 * v):
    """A stand-in server that also tells its SLO levels: the TTFT percentile grows along
    `curve` and meets its target at `capacity`; TPOT stays at a third of its target."""
    def probe(value: float) -> Probe:
        level = curve(value) / curve(capacity)
        return Probe(value, level <= 1, 100 * value, 10 + value, (level, 0.3))
    return probe


def _search(server, start: float = 1, maximum: float = 256, resolution: float = 1,
            whole: bool = True):
    probes: list[Probe] = []
    while (step := next_step(probes, start, maximum, resolution, 0.1, whole)).next is not None:
        again = [p for p in probes if p.value == step.next]
        # A value is probed twice only to confirm the search's first failure, at once.
        assert not again or (again == probes[-1:] and not again[0].passed
                             and sum(not p.passed for p in probes) == 1), (step, probes)
        probes.append(server(step.next))
    return probes, step


def test_doubling_then_bisecting_brackets_the_capacity() -> None:
    probes, step = _search(_server(11))
    assert [p.value for p in probes] == [1, 2, 4, 8, 16, 16, 12, 10, 11]
    assert (step.capacity, step.above) == (11, 12)
    assert step.reason == "bracketed: 11 passes, 12 fails (resolution 1)"
    # A fine grid over the same range (1, 2, ..., 32) answers the same, with 4x the points.
    grid = [_server(11)(c) for c in range(1, 33)]
    assert max(p.value for p in grid if p.passed) == step.capacity
    assert len(probes) <= len(grid) / 3


@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 7, 31, 64, 100, 255])
def test_the_search_agrees_with_a_grid_within_its_resolution(capacity: int) -> None:
    probes, step = _search(_server(capacity), resolution=2)
    assert step.capacity is not None and step.above is not None
    assert step.capacity <= capacity < step.above and step.above - step.capacity <= 2
    assert len(probes) <= most_probes(1, 256, 2)


def test_a_one_time_stall_does_not_end_the_doubling() -> None:
    # The H200 proof's first probe failed on one 0.5 s stall; a grid then passed up to 80.
    stalled = {8}

    def server(value: float) -> Probe:
        if value in stalled:
            stalled.discard(value)
            return Probe(value, False, 2000, 170)
        return _server(80)(value)

    probes, step = _search(server, start=8, maximum=256, resolution=16)
    assert [p.value for p in probes][:3] == [8, 8, 16]  # confirmed: it passes the second time
    assert step.capacity is not None and 64 <= step.capacity <= 80 < step.above  # type: ignore[operator]


def test_a_failing_start_halves_down() -> None:
    probes, step = _search(_server(3), start=16, maximum=256)
    assert [p.value for p in probes] == [16, 16, 8, 4, 2, 3]
    assert (step.capacity, step.above) == (3, 4)


def test_edges() -> None:
    probes, step = _search(_server(0.5))
    assert [p.value for p in probes] == [1, 1] and step.capacity is None
    assert step.reason == "even 1 fails the SLO"
    probes, step = _search(_server(1000), maximum=100)  # never fails: nothing to confirm
    assert [p.value for p in probes] == [1, 2, 4, 8, 16, 32, 64, 100]
    assert (step.capacity, step.above) == (100, None)
    assert step.reason == "every probe passed up to sweep.search.max = 100"
    # Request rates: not whole numbers, bisected to the resolution.
    probes, step = _search(_server(3.3), start=0.5, maximum=64, resolution=0.25, whole=False)
    assert step.capacity is not None and step.above is not None
    assert step.capacity <= 3.3 < step.above and step.above - step.capacity <= 0.25


def test_saturation_is_told() -> None:
    assert saturated(Probe(8, True, 800, 10), Probe(16, True, 820, 30), 0.1)
    assert not saturated(Probe(8, True, 800, 10), Probe(16, True, 1500, 30), 0.1)  # still gaining
    assert not saturated(Probe(8, True, 800, 30), Probe(16, True, 820, 10), 0.1)  # TTFT fell
    _, step = _search(_server(40, saturates_at=8))
    assert step.saturated_at == 16
    assert "saturated from 16" in step.notes[0]


def test_most_probes() -> None:
    # 1..256 doubling, 128 halved to 1, a confirmation, the probes the percentiles place
    assert most_probes(1, 256, 1) == 9 + 7 + 1 + AIMED
    assert most_probes(1, 1, 1) == 2 + AIMED


def test_crossing() -> None:
    # TTFT p90 at 250 of 300 ms at c64 and 185 at c32 (an H200 run): 300 ms near c88.6
    assert crossing(Probe(32, True, levels=(185 / 300, 0.2)),
                    Probe(64, True, levels=(250 / 300, 0.3))) == pytest.approx(88.6, abs=0.1)
    # The earlier target wins; a level that falls or stays is no guide; no levels, no guess.
    assert crossing(Probe(10, True, levels=(0.5, 0.8)), Probe(20, True, levels=(0.6, 0.9))) == 30
    assert crossing(Probe(10, True, levels=(0.5,)), Probe(20, True, levels=(0.5,))) is None
    assert crossing(Probe(10, True), Probe(20, True)) is None
    # Between a pass and a failure: interpolated.
    assert crossing(Probe(64, True, levels=(0.8,)), Probe(96, False, levels=(1.2,))) == 80


def test_the_percentiles_keep_the_search_off_loads_far_past_the_answer() -> None:
    # The classic search doubles to 128 (and confirms it) before bisecting back to 88; with
    # the levels it probes where they extrapolate to the target, and stops one step past it.
    probes, step = _search(_levelled(88), start=8, resolution=8)
    assert [p.value for p in probes] == [8, 16, 32, 64, 88, 96]
    assert (step.capacity, step.above) == (88, 96)
    classic, same = _search(_server(88), start=8, resolution=8)
    assert (same.capacity, same.above) == (88, 96) and max(p.value for p in classic) == 128
    assert sum(p.value for p in probes) < 0.6 * sum(p.value for p in classic)
    # A failure the levels foresaw (96, past the extrapolated 88) is believed at once.
    assert [p.value for p in probes].count(96) == 1
    # A first failure they did not foresee is still probed again (a one-time stall at c8).
    stalled = {8}

    def server(value: float) -> Probe:
        if value in stalled:
            stalled.discard(value)
            return Probe(value, False, 2000, 170, (1.4, 0.3))
        return _levelled(88)(value)

    probes, step = _search(server, start=8, resolution=8)
    assert [p.value for p in probes][:3] == [8, 8, 16] and step.capacity == 88


@pytest.mark.parametrize("curve", [
    lambda v: 50 + 2 * v, math.sqrt, lambda v: 50 + v * v / 20, lambda v: math.exp(v / 40),
    # Levels that rise and flatten under the target: the extrapolation always falls short.
    lambda v: 1 - 1 / v], ids=["linear", "concave", "convex", "steep", "misjudged"])
@pytest.mark.parametrize("capacity", [3, 40, 88, 200])
def test_the_percentiles_never_cost_more_than_their_probes(curve, capacity: int) -> None:
    levelled = _levelled(capacity, curve)
    if curve(2) <= curve(1):  # the misjudged curve: levels below 1, the verdict told apart
        def levelled(value: float) -> Probe:
            return Probe(value, value <= capacity, 100 * value, 10 + value, (curve(value),))
    probes, step = _search(levelled, start=1, resolution=4)
    assert step.capacity is not None and step.above is not None
    assert step.capacity <= capacity < step.above and step.above - step.capacity <= 4
    assert len(probes) <= most_probes(1, 256, 4)
    classic, _ = _search(_server(capacity), start=1, resolution=4)
    assert len(probes) <= len(classic) + AIMED


@pytest.fixture
def bench_points():
    folder = str(data_dir("container_scripts"))
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module("bench_points")
    finally:
        sys.path.remove(folder)


def test_the_control_file_adds_and_skips_points(bench_points, tmp_path: Path) -> None:
    control = tmp_path / "v0.control.json"
    argv = ["--point", "1", "a.json", "--point", "2", "b.json", "--result-dir", str(tmp_path),
            "--control", str(control), "--", "--backend", "openai"]
    given = bench_points.parse(argv)
    queue = list(given.points)
    assert bench_points.next_point(given, queue, 2) == (None, False)  # no file: the given ones
    assert bench_points.write_control(str(control), json.dumps(
        {"add": [["4", "c.json", "", "seed=3", "prompts=16", "rate=2.5"]], "skip": ["b.json"]})) == 0
    assert not (tmp_path / "v0.control.json.part").exists()
    point, skip = bench_points.next_point(given, queue, 1)
    assert (point.name, skip) == ("b.json", True)
    point, skip = bench_points.next_point(given, queue, 2)
    assert (point.name, point.concurrency, point.seed, point.prompts, point.rate, skip) == (
        "c.json", 4, 3, 16, 2.5, False)
    assert bench_points.next_point(given, queue, 3) == (None, False)


def test_a_search_process_waits_for_its_next_probe_and_gives_up(bench_points, tmp_path: Path) -> None:
    control = tmp_path / "v0.control.json"
    given = bench_points.parse(["--point", "1", "a.json", "--result-dir", str(tmp_path),
                                "--control", str(control), "--wait-more", "0.3", "--", "-x"])
    with pytest.raises(SystemExit, match="no next point"):
        bench_points.next_point(given, list(given.points), 1)
    control.write_text(json.dumps({"end": True}))
    assert bench_points.next_point(given, list(given.points), 1) == (None, False)
    with pytest.raises(SystemExit, match="rate=0"):
        bench_points.parse(["--point", "1", "a.json", "rate=0", "--result-dir", "x", "--", "-x"])


def _run(attainment: float, p90_ttft: float, completed: int = 40, failed: int = 0) -> dict:
    """A point's summary row as the steering reads it (10 s long)."""
    return {"completed": completed, "failed": failed, "duration": 10.0,
            "request_goodput": attainment * completed / 10.0, "slo_met": attainment >= 0.9,
            "output_throughput": 1000.0, "mean_ttft_ms": p90_ttft / 2,
            "p90_ttft_ms": p90_ttft, "p90_tpot_ms": 3.0}


def test_a_probe_of_several_runs_is_judged_on_all_their_requests() -> None:
    from orchestrator.config.model import Slo
    from orchestrator.stacks.steering import pooled, slo_levels

    slo = Slo(ttft_ms=300, tpot_ms=15)
    assert slo_levels(_run(1.0, 150), slo) == (0.5, 0.2)
    assert slo_levels(_run(1.0, 150), Slo(ttft_ms=300, attainment=0.95)) == ()  # no p95 here
    # One run passes, one fails: the 80 requests together decide (35 + 30 of 40 met: 0.81).
    probe = pooled(64, [_run(0.875, 240), _run(0.75, 360)], slo)
    assert not probe.passed and probe.levels == pytest.approx((1.0, 0.2))
    assert pooled(64, [_run(1.0, 240), _run(0.85, 300)], slo).passed  # 0.925
    assert not pooled(64, [_run(1.0, 240), _run(1.0, 240, failed=1)], slo).passed
    assert pooled(64, [_run(0.95, 240)], slo).passed  # one run: its own verdict
