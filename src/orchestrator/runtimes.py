"""The table of runtimes: each kind's traits, engine and renderers, and the questions config
checks and plans ask of it (kinds, traits, formats). It sits below config/ and plan/ and imports
neither: engines and renderers are named by import path and loaded by runtime/registry.py only
when used, so config checks and `orchestrator --help` never import Docker's or Kubernetes'
client libraries. A runtime is a folder under runtime/ plus one row here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Traits:
    """The abilities and words of one runtime."""

    title: str  # how messages name it: "Docker", "Kubernetes", "local"
    component_word: str  # what one component is called there: "container", "process"
    pins_gpu_ids: bool  # GPUs are given by id (one host), not only by count
    loopback_services: bool  # components reach each other on 127.0.0.1, not by name
    # The name by which a component reaches this host (a server the tool did not start, running
    # here), when the runtime maps one; loopback there is the component itself.
    host_alias: str | None = None
    limits_memory: bool = True  # a component can be given a memory limit (killed above it)
    dns_names: bool = False  # names become DNS-1035 labels (Service names): start with a letter
    # Files from this machine (the dataset) travel in an object of at most this many bytes
    # (a ConfigMap) unless a volume of the cluster's holds them; None: mounted as they are.
    file_object_bytes: int | None = None
    # Roles that may span several nodes, and what they become there ("a LeaderWorkerSet").
    spans_nodes: dict[str, str] = field(default_factory=dict)


Rendered = dict[str, list[dict[str, Any]]]  # file name -> the objects written into it


@dataclass(frozen=True)
class RuntimeEntry:
    """One row: a kind's traits, its engine class and its render formats (the first is the
    default), each as "module:attribute"."""

    kind: str
    traits: Traits
    engine: str
    renderers: dict[str, str]
    secrets: str | None = None  # renders the referenced secrets' objects, when asked


RUNTIMES: dict[str, RuntimeEntry] = {
    entry.kind: entry
    for entry in (
        RuntimeEntry(
            "docker",
            Traits(title="Docker", component_word="container",
                   pins_gpu_ids=True, loopback_services=False,
                   host_alias="host.docker.internal"),
            engine="orchestrator.runtime.docker.engine:DockerRuntime",
            renderers={"sdk": "orchestrator.runtime.docker.render:render_files",
                       "compose": "orchestrator.runtime.docker.compose:render_files"},
        ),
        RuntimeEntry(
            "kubernetes",
            Traits(title="Kubernetes", component_word="container",
                   pins_gpu_ids=False, loopback_services=False, dns_names=True,
                   file_object_bytes=1024**2,  # a ConfigMap
                   spans_nodes={"server": "a LeaderWorkerSet", "trainer": "an indexed Job"}),
            engine="orchestrator.runtime.kubernetes.engine:KubernetesRuntime",
            renderers={"manifests": "orchestrator.runtime.kubernetes.render:render_files"},
            secrets="orchestrator.runtime.kubernetes.secrets:render_files",
        ),
        RuntimeEntry(
            "local",
            Traits(title="local", component_word="process",
                   pins_gpu_ids=True, loopback_services=True, limits_memory=False),
            engine="orchestrator.runtime.local.engine:LocalRuntime",
            renderers={"processes": "orchestrator.runtime.local.render:render_files"},
        ),
    )
}
KINDS: tuple[str, ...] = tuple(RUNTIMES)


def traits(kind: str) -> Traits:
    """What the kind of runtime can do."""
    return RUNTIMES[kind].traits


def kinds_with(predicate: Callable[[Traits], bool]) -> list[str]:
    """The kinds whose traits satisfy `predicate`, in registry order (for messages)."""
    return [kind for kind, row in RUNTIMES.items() if predicate(row.traits)]


def formats(kind: str) -> list[str]:
    """The render formats of a kind, default first."""
    return list(RUNTIMES[kind].renderers)


def renders_secrets(kind: str) -> bool:
    """Whether the kind has secret objects to render."""
    return RUNTIMES[kind].secrets is not None
