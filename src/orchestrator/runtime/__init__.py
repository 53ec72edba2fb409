"""Runtimes: where a plan runs (docker, kubernetes, local), all behind one interface."""

from __future__ import annotations

from orchestrator.errors import NotImplementedYet
from orchestrator.runtime.base import Runtime


def get_runtime(kind: str, verb: str) -> Runtime:
    """The runtime for `kind`; `verb` names the command in the not-implemented message."""
    if kind == "docker":
        from orchestrator.runtime.docker import DockerRuntime

        return DockerRuntime()
    raise NotImplementedYet(
        f"the {kind} runtime is not implemented yet, so `orchestrator {verb}` cannot run;"
        " `orchestrator render bench --runtime docker|kubernetes` shows what it will create"
    )
