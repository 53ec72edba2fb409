"""Readiness waiting: checks in order, a death stops the wait at once, a deadline names what
was awaited."""

from __future__ import annotations

import time

import pytest

from orchestrator.readiness import NotAlive, TimedOut, wait_until_ready


def test_wait_stops_at_once_when_the_component_dies() -> None:
    started = time.monotonic()
    with pytest.raises(NotAlive, match="exited with code 2"):
        wait_until_ready([lambda: "not yet"], alive=lambda: "exited with code 2", timeout_s=60)
    assert time.monotonic() - started < 1


def test_wait_times_out_saying_what_it_waited_for() -> None:
    with pytest.raises(TimedOut, match="GET /health: 503"):
        wait_until_ready([lambda: "GET /health: 503"], alive=lambda: None, timeout_s=0.2,
                         interval_s=0.05)


def test_wait_checks_in_order_until_all_pass() -> None:
    answers = iter(["no health", None, "no model", None, None])
    seen: list[str] = []
    took = wait_until_ready([lambda: next(answers), lambda: next(answers)], alive=lambda: None,
                            timeout_s=5, on_tick=lambda w, _: seen.append(w), interval_s=0.01)
    assert seen == ["no health", "no model"] and took < 5
