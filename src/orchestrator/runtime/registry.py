"""The one registry of runtimes: each kind's traits, engine and renderers.

A runtime is a folder under runtime/ plus one row here. Engines and renderers are named by
import path and loaded only when used, so that config checks (which read the traits) and
`orchestrator --help` never import Docker's or Kubernetes' client libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import NotImplementedYet
from orchestrator.runtime.traits import Traits

if TYPE_CHECKING:
    from orchestrator.plan import Plan, Scope
    from orchestrator.runtime.base import Runtime

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


def entry(kind: str) -> RuntimeEntry:
    """The registry row of a kind (config validation has already refused unknown kinds)."""
    return RUNTIMES[kind]


def traits(kind: str) -> Traits:
    """What the kind of runtime can do."""
    return RUNTIMES[kind].traits


def kinds_with(predicate: Callable[[Traits], bool]) -> list[str]:
    """The kinds whose traits satisfy `predicate`, in registry order (for messages)."""
    return [kind for kind, row in RUNTIMES.items() if predicate(row.traits)]


def get_runtime(kind: str, verb: str, scope: Scope) -> Runtime:
    """A connected engine of `kind`; `verb` names the command in the refusal for an unknown
    kind, `scope` says which cluster and namespace (for runtimes that have them)."""
    row = RUNTIMES.get(kind)
    if row is None:
        raise NotImplementedYet(
            f"the {kind} runtime does not exist, so `orchestrator {verb}` cannot run;"
            f" use {', '.join(KINDS[:-1])} or {KINDS[-1]}"
        )
    engine: Runtime = engine_class(kind)(scope)
    return engine


def engine_class(kind: str) -> Any:
    """The engine class of a kind (imported now)."""
    return _load(RUNTIMES[kind].engine)


def renderer(kind: str, fmt: str | None = None) -> Callable[[Plan], Rendered]:
    """The render function of a kind for format `fmt` (default: the kind's first format)."""
    row = RUNTIMES[kind]
    function: Callable[[Plan], Rendered] = _load(row.renderers[fmt or next(iter(row.renderers))])
    return function


def render(kind: str, plan: Plan, fmt: str | None = None) -> Rendered:
    """Render `plan` for `kind` in format `fmt` (default: the kind's first format)."""
    return renderer(kind, fmt)(plan)


def render_secrets(kind: str, plan: Plan) -> Rendered:
    """The objects that hold the plan's referenced secrets, from this process's environment;
    {} for a runtime that reads secrets from the environment itself."""
    path = RUNTIMES[kind].secrets
    rendered: Rendered = _load(path)(plan) if path else {}
    return rendered


def renders_secrets(kind: str) -> bool:
    """Whether the kind has secret objects to render."""
    return RUNTIMES[kind].secrets is not None


def formats(kind: str) -> list[str]:
    """The render formats of a kind, default first."""
    return list(RUNTIMES[kind].renderers)


def _load(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)
