"""Readiness as small strategy objects, polled until all pass, the deadline, or a death.

Each check answers `None` when satisfied or a short text saying what it is still waiting for.
The waiter stops at once when the component is no longer alive, so a server that crashes at
start fails the wait in seconds, not at the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import requests

# How often a start is polled: the tool should see a ready server within a quarter of a second
# of its "Application startup complete" (bench/readiness_lag.py prints the lag).
POLL_S = 0.2


class NotAnswering(str):
    """A check's waiting text that only says the endpoint does not answer yet, as it does not
    during every normal start: shown on the spinner and when the wait fails, not printed as a
    step of the start."""


class Check(Protocol):
    """One readiness condition."""

    def __call__(self) -> str | None:
        """None when satisfied, else what is still awaited."""


@dataclass(frozen=True)
class HttpOk:
    """GET `url` answers 200."""

    url: str
    timeout_s: float = 5.0

    def __call__(self) -> str | None:
        try:
            response = requests.get(self.url, timeout=self.timeout_s)
        except requests.RequestException as exc:
            return NotAnswering(f"GET {self.url}: {type(exc).__name__}")
        return None if response.status_code == 200 else f"GET {self.url}: {response.status_code}"


@dataclass(frozen=True)
class ModelListed:
    """GET `base_url`/v1/models lists `model`."""

    base_url: str
    model: str

    def __call__(self) -> str | None:
        try:
            response = requests.get(f"{self.base_url}/v1/models", timeout=10)
            served = [m["id"] for m in response.json()["data"]]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            return NotAnswering(f"GET {self.base_url}/v1/models: {type(exc).__name__}")
        return None if self.model in served else f"model {self.model!r} not in {served}"


class NotAlive(Exception):
    """The component died while it was awaited; the message says how."""


class TimedOut(Exception):
    """The deadline passed; the message says what was still awaited."""


def wait_until_ready(
    checks: Sequence[Check],
    alive: Callable[[], str | None],
    timeout_s: float,
    on_tick: Callable[[str, float], None] = lambda waiting, elapsed: None,
    interval_s: float = POLL_S,
) -> float:
    """Poll `checks` in order until all pass; return the seconds it took.

    `alive` returns None while the component runs, else why it is not (raises NotAlive).
    `on_tick(waiting_for, elapsed)` is called after each round, for progress displays.
    """
    start = time.monotonic()
    while True:
        death = alive()
        if death:
            raise NotAlive(death)
        waiting = next((w for w in (check() for check in checks) if w), None)
        elapsed = time.monotonic() - start
        if waiting is None:
            return elapsed
        on_tick(waiting, elapsed)
        if elapsed >= timeout_s:
            raise TimedOut(waiting)
        time.sleep(interval_s)
