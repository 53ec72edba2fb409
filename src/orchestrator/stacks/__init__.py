"""Stacks: what runs on a runtime (bench now; train later), driven through the interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.errors import NotImplementedYet


def stack_runner(name: str) -> Callable[..., Any]:
    """The function that runs the named stack."""
    if name == "bench":
        from orchestrator.stacks.bench import run_bench

        return run_bench
    raise NotImplementedYet(
        f"the {name} stack is not implemented yet; `orchestrator up bench` runs the benchmark"
    )
