"""Runtimes: where a plan runs (docker, kubernetes, local), all behind one interface."""

from __future__ import annotations

from orchestrator.config.model import KubernetesSettings, StackSpec
from orchestrator.errors import NotImplementedYet
from orchestrator.runtime.base import Runtime


def get_runtime(kind: str, verb: str, spec: StackSpec | None = None,
                kubernetes: KubernetesSettings | None = None) -> Runtime:
    """The runtime for `kind`; `verb` names the command in the not-implemented message.

    `spec` is the stack's config (needed to start one); `kubernetes` the cluster settings
    when there is no config (commands given only -p).
    """
    if kind == "docker":
        from orchestrator.runtime.docker import DockerRuntime

        return DockerRuntime()
    if kind == "kubernetes":
        from orchestrator.runtime.kubernetes import KubernetesRuntime

        settings = spec.runtime.kubernetes if spec else (kubernetes or KubernetesSettings())
        return KubernetesRuntime(spec, settings)
    if kind == "local":
        from orchestrator.runtime.local import LocalRuntime

        return LocalRuntime()
    raise NotImplementedYet(
        f"the {kind} runtime does not exist, so `orchestrator {verb}` cannot run;"
        " use docker, kubernetes or local"
    )
