"""Stacks: what runs on a runtime (bench, train), driven through the runtime interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.errors import NotImplementedYet


def stack_runner(name: str, runtime_kind: str) -> Callable[..., Any]:
    """The function that runs the named stack (bench or train) on that kind of runtime."""
    if name == "train" and runtime_kind == "kubernetes":
        raise NotImplementedYet(
            "`orchestrator up train` runs on docker for now; on Kubernetes run `orchestrator"
            " render train --runtime kubernetes -o out/ && kubectl apply -f out/`, then"
            " `orchestrator logs trainer -f`, `ps` and `down` as usual"
        )
    if name == "train":
        from orchestrator.stacks.train import run_train

        return run_train
    from orchestrator.stacks.bench import run_bench

    return run_bench
