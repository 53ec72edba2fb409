"""What a cross-field check returns, and the rule about roles that span nodes, which the bench
and train checks share."""

from __future__ import annotations

from orchestrator.config.model import StackSpec
from orchestrator.config.source import Loc
from orchestrator.runtime.registry import kinds_with, traits

Problem = tuple[Loc, str]


def spans_nodes_problem(spec: StackSpec, loc: Loc, nodes: int) -> Problem | None:
    """Refuse `nodes` > 1 for a role (loc[0]) on a runtime that cannot spread it over nodes."""
    role, field = str(loc[0]), ".".join(str(part) for part in loc)
    if role in traits(spec.runtime.kind).spans_nodes:
        return None
    able = kinds_with(lambda t: role in t.spans_nodes)
    how = "; ".join(f"{traits(kind).spans_nodes[role]}" for kind in able)
    return (loc, f"{field} = {nodes} needs runtime.kind: {' or '.join(able)} ({how});"
                 f" on {spec.runtime.kind} set {field} to 1")
