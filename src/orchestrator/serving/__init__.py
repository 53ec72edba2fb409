"""The serving engines orchestrator can start: one module each, one row here. A third engine
is a module filling in serving/base.ServingEngine plus its row."""

from __future__ import annotations

from orchestrator.serving.base import SERIES, ServingEngine
from orchestrator.serving.sglang import SGLANG
from orchestrator.serving.vllm import VLLM

ENGINES: dict[str, ServingEngine] = {engine.name: engine for engine in (VLLM, SGLANG)}
ENGINE_NAMES: tuple[str, ...] = tuple(ENGINES)


def engine_of(name: str) -> ServingEngine:
    """The engine server.engine names (config validation has refused any other name)."""
    return ENGINES[name]


__all__ = ["ENGINES", "ENGINE_NAMES", "SERIES", "ServingEngine", "engine_of"]
