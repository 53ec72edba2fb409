"""Stacks: what runs on a runtime (bench, train), driven through the runtime interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def stack_runner(name: str) -> Callable[..., Any]:
    """The function that runs the named stack (bench or train); every runtime runs both."""
    if name == "train":
        from orchestrator.stacks.train import run_train

        return run_train
    from orchestrator.stacks.bench import run_bench

    return run_bench
