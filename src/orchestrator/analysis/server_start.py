"""What a vLLM server's start really did, from its own log lines: how long it loaded weights,
whether it compiled its graphs or loaded them from the compile cache (and how long that took),
how long it captured CUDA graphs and initialised the engine. The compile cache's folder having
files says nothing: vLLM's cache key changes with settings such as max_num_seqs."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_WEIGHTS = re.compile(rf"Model loading took .*? and {_NUMBER} s(?:econds|ec)?\b")
_WEIGHTS_ALT = re.compile(rf"Loading weights took {_NUMBER} s")
_COMPILED = re.compile(rf"Compiling a graph for .*? takes? {_NUMBER} s")
_LOADED = re.compile(rf"Directly load the compiled graph\(s\) for .*? from the cache, took"
                     rf" {_NUMBER} s")
_COMPILE_TOTAL = re.compile(rf"torch\.compile (?:takes|took) {_NUMBER} s in total")
_GRAPHS = re.compile(rf"Graph capturing finished in {_NUMBER} secs?")
_KV_TOKENS = re.compile(r"[GC]PU KV cache size: ([0-9,]+) tokens")
_KV_MEMORY = re.compile(rf"Available KV cache memory: {_NUMBER} GiB")
_MAX_CONCURRENCY = re.compile(rf"Maximum concurrency for [0-9,]+ tokens per request: {_NUMBER}x")
_ENGINE = re.compile(rf"init engine \(profile, create kv cache, warmup model\) took {_NUMBER} s")


@dataclass(frozen=True)
class ServerStart:
    """One start's figures (None where the log does not say)."""

    compile: str  # compiled, loaded from cache, none (eager), unknown
    weights_s: float | None
    compile_s: float | None
    graph_capture_s: float | None
    engine_init_s: float | None
    other_s: float | None  # ready time less weights and engine init: process start, imports, API
    kv_cache_tokens: int | None = None  # vLLM's "GPU KV cache size"
    kv_cache_gib: float | None = None  # its "Available KV cache memory" (per GPU)
    max_concurrency: float | None = None  # its "Maximum concurrency" at max_model_len

    def as_json(self) -> dict[str, Any]:
        """For variants.json."""
        return asdict(self)

    def text(self) -> str:
        """One line: `compiled 17.3 s; weights 0.6 s, graphs 2 s, engine init 31.3 s`."""
        parts = [f"{label} {value:g} s" for label, value in (
            ("weights", self.weights_s), ("graphs", self.graph_capture_s),
            ("engine init", self.engine_init_s), ("other", self.other_s)) if value is not None]
        head = self.compile + (f" {self.compile_s:g} s" if self.compile_s is not None else "")
        return f"{head}; {', '.join(parts)}" if parts else head


def server_start(log: str, ready_s: float | None, eager: bool) -> ServerStart:
    """Read one start from its server log; `ready_s` is the time to ready the tool measured,
    `eager` whether the server was told --enforce-eager (no compilation expected)."""
    weights = _last(_WEIGHTS, log)
    if weights is None:
        weights = _last(_WEIGHTS_ALT, log)
    compiled, loaded = _all(_COMPILED, log), _all(_LOADED, log)
    total = _last(_COMPILE_TOTAL, log)
    if compiled:
        state = "compiled"
    elif loaded:
        state = "loaded from cache"
    elif eager or (weights is not None and total is None):
        state = "none (eager)"
    else:
        state = "unknown"
    if total is None and (compiled or loaded):
        total = round(sum(compiled) + sum(loaded), 3)
    engine = _last(_ENGINE, log)
    other = None
    if ready_s is not None and engine is not None:
        other = round(max(0.0, ready_s - engine - (weights or 0.0)), 2)
    tokens = [int(m.group(1).replace(",", "")) for m in _KV_TOKENS.finditer(log)]
    return ServerStart(state, weights, total, _last(_GRAPHS, log), engine, other,
                       tokens[-1] if tokens else None, _last(_KV_MEMORY, log),
                       _last(_MAX_CONCURRENCY, log))


def _all(pattern: re.Pattern[str], log: str) -> list[float]:
    return [float(m.group(1)) for m in pattern.finditer(log)]


def _last(pattern: re.Pattern[str], log: str) -> float | None:
    found = _all(pattern, log)
    return found[-1] if found else None
