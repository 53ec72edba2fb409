"""A point's steady window, from vLLM's per-request times (`--save-detailed`): after the
ramp-up (the first wave of `concurrency` requests, all sent at once) and before the ramp-down
(once the last request is sent, fewer than `concurrency` are in flight). Figures over that
window measure the concurrency the point claims; whole-point figures mix in both ramps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Request:
    """One request as vLLM's benchmark timed it (seconds on its perf_counter clock)."""

    start: float
    ttft: float
    itls: list[float]
    output_len: int
    ok: bool

    @property
    def arrivals(self) -> list[float]:
        """When each streamed chunk arrived: the first token, then one per gap in `itls`."""
        first = self.start + self.ttft
        return [float(t) for t in np.cumsum([first, *self.itls])] if self.ok else []

    @property
    def tokens_per_arrival(self) -> float:
        """Output tokens a chunk carries on average: under load vLLM's stream sends several
        tokens in one chunk, so `itls` has fewer entries than the output has tokens (measured
        on an H200 at concurrency 128: 10-54 chunks for 128 tokens)."""
        return self.output_len / (len(self.itls) + 1) if self.ok else 0.0

    @property
    def end(self) -> float:
        """When its last token arrived (its start when it failed)."""
        return self.start + self.ttft + sum(self.itls) if self.ok else self.start

    @property
    def tpot(self) -> float | None:
        """Its time per output token after the first (None with one token or none)."""
        return sum(self.itls) / (self.output_len - 1) if self.ok and self.output_len > 1 else None


@dataclass(frozen=True)
class SteadyWindow:
    """The window [start, end] and what happened in it."""

    start: float
    end: float
    requests: list[Request]  # started in the window and ended in it
    tokens: float  # output tokens that arrived in the window
    completions: int  # requests that ended in the window

    def figures(self) -> dict[str, Any]:
        """The summary columns (steady_…); throughput over the window's length."""
        length = self.end - self.start
        ttfts = [r.ttft * 1000 for r in self.requests if r.ok]
        tpots = [t * 1000 for r in self.requests if (t := r.tpot) is not None]
        e2els = [(r.end - r.start) * 1000 for r in self.requests if r.ok]
        return {
            "steady_requests": len(self.requests),
            "steady_s": round(length, 4),
            "steady_output_throughput": self.tokens / length if length > 0 else None,
            "steady_request_throughput": self.completions / length if length > 0 else None,
            "steady_mean_ttft_ms": _mean(ttfts),
            "steady_p99_ttft_ms": _p99(ttfts),
            "steady_mean_tpot_ms": _mean(tpots),
            "steady_p99_e2el_ms": _p99(e2els),
        }


STEADY_COLUMNS = ("steady_requests", "steady_s", "steady_output_throughput",
                  "steady_request_throughput", "steady_mean_ttft_ms", "steady_p99_ttft_ms",
                  "steady_mean_tpot_ms", "steady_p99_e2el_ms")


def requests_of(result: dict[str, Any]) -> list[Request] | None:
    """The requests of a vLLM result saved with --save-detailed, in start order (None when
    the file has no per-request times)."""
    starts, ttfts, itls = (result.get(k) for k in ("start_times", "ttfts", "itls"))
    outs, errors = result.get("output_lens"), result.get("errors")
    if not (isinstance(starts, list) and isinstance(ttfts, list) and isinstance(itls, list)
            and len(starts) == len(ttfts) == len(itls) and starts):
        return None
    outs = outs if isinstance(outs, list) and len(outs) == len(starts) else [0] * len(starts)
    errors = errors if isinstance(errors, list) and len(errors) == len(starts) else [""] * len(starts)
    requests = []
    for start, ttft, gaps, out, error in zip(starts, ttfts, itls, outs, errors, strict=True):
        try:
            ok = not error and float(ttft) > 0
            requests.append(Request(float(start), float(ttft or 0.0),
                                    [float(g) for g in (gaps or [])], int(out or 0), ok))
        except (TypeError, ValueError):
            return None
    return sorted(requests, key=lambda r: r.start)


def steady_window(requests: list[Request], concurrency: int) -> SteadyWindow | None:
    """From the first request sent after the first wave to the last request sent; None when
    the point sent no request after its first wave (it never left its ramp-up)."""
    if len(requests) <= concurrency:
        return None
    start, end = requests[concurrency].start, requests[-1].start
    if end <= start:
        return None
    inside = [r for r in requests if r.start >= start and r.ok and r.end <= end]
    tokens = sum(r.tokens_per_arrival for r in requests for t in r.arrivals if start <= t <= end)
    completions = sum(1 for r in requests if r.ok and start <= r.end <= end)
    return SteadyWindow(start, end, inside, tokens, completions)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _p99(values: list[float]) -> float | None:
    return float(np.percentile(values, 99)) if values else None
