"""Stacks: what runs on a runtime (bench, train), driven through the runtime interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.errors import NotImplementedYet
from orchestrator.runtime.registry import traits


def stack_runner(name: str, runtime_kind: str) -> Callable[..., Any]:
    """The function that runs the named stack (bench or train) on that kind of runtime."""
    runtime = traits(runtime_kind)
    if name not in runtime.stacks:
        hint = f" && {runtime.apply_hint}" if runtime.apply_hint else ""
        raise NotImplementedYet(
            f"`orchestrator up {name}` does not run on {runtime.title} yet; run `orchestrator"
            f" render {name} --runtime {runtime_kind} -o out/{hint}`, then `orchestrator logs"
            f" {'trainer' if name == 'train' else 'server'} -f`, `ps` and `down` as usual"
        )
    if name == "train":
        from orchestrator.stacks.train import run_train

        return run_train
    from orchestrator.stacks.bench import run_bench

    return run_bench
