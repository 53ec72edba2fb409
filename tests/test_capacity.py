"""Capacity under an SLO and the knee, on hand-made series with known answers."""

from __future__ import annotations

import pytest

from orchestrator.analysis.capacity import Capacity, SeriesPoint, attainment, capacity, knee, slo_met


def _series(*rows: tuple[int, float, float, float | None]) -> list[SeriesPoint]:
    return [SeriesPoint(c, thr, lat, att) for c, thr, lat, att in rows]


def test_attainment_from_vllm_goodput() -> None:
    # 20 requests in 4 s; goodput 4.5 req/s met every SLO: 18 of 20.
    assert attainment(4.5, 4.0, 20) == pytest.approx(0.9)
    assert attainment(None, 4.0, 20) is None and attainment(4.5, 0, 20) is None
    assert attainment(100.0, 4.0, 20) == 1.0  # rounding in vLLM never gives more than all


def test_capacity_interpolates_where_attainment_crosses_the_share() -> None:
    points = _series((1, 100, 50, 1.0), (2, 180, 60, 1.0), (4, 300, 80, 0.95),
                     (8, 350, 150, 0.55))
    # 0.95 at 4, 0.55 at 8: 0.9 is crossed an eighth of the way, at 4.5.
    found = capacity(points, 0.9)
    assert found is not None and found.how == "interpolated"
    assert found.concurrency == pytest.approx(4.5) and found.text() == "~4.5 (interpolated)"
    assert [slo_met(p, 0.9) for p in points] == [True, True, True, False]


def test_capacity_when_all_or_none_meet_it_and_without_an_slo() -> None:
    every = _series((1, 100, 50, 1.0), (4, 300, 80, 0.99))
    assert capacity(every, 0.9) == Capacity(4, "at least")
    assert capacity(every, 0.9).text() == ">= 4"  # type: ignore[union-attr]
    none = _series((1, 100, 50, 0.5), (4, 300, 80, 0.2))
    assert capacity(none, 0.9) == Capacity(0, "none")
    assert capacity(_series((1, 100, 50, None)), 0.9) is None
    exact = _series((1, 100, 50, 0.9), (2, 150, 60, 0.8))
    assert capacity(exact, 0.9) == Capacity(1, "measured")


def test_knee_is_where_doubling_stops_paying() -> None:
    points = _series((1, 100, 50, None), (2, 190, 52, None), (4, 350, 60, None),
                     (8, 370, 110, None), (16, 372, 220, None))
    found = knee(points)
    assert found is not None and found.concurrency == 4  # past 4, 5 tok/s a request or less
    assert "under 10% of the 100 tok/s" in found.reason
    growing = _series((1, 100, 50, None), (2, 190, 52, None), (4, 350, 60, None))
    assert knee(growing) is None
    # Flat throughput but falling latency (a warm-up artefact) is not a knee.
    odd = _series((1, 100, 80, None), (2, 105, 60, None))
    assert knee(odd) is None
