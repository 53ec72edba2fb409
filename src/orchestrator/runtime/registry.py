"""Loading a runtime's engine and renderers from its row in orchestrator/runtimes.py (the
table), only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.errors import NotImplementedYet
from orchestrator.runtimes import KINDS, RUNTIMES, Rendered

if TYPE_CHECKING:
    from orchestrator.plan import Plan, Scope
    from orchestrator.runtime.base import Runtime


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


def engine_class(kind: str) -> type[Runtime]:
    """The engine class of a kind (imported now), held to the Runtime protocol."""
    engine: type[Runtime] = _load(RUNTIMES[kind].engine)
    return engine


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


def _load(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)
