"""What a cross-field check returns, and the rules the bench and train checks share: roles that
span nodes, and a dataset file that must reach its container."""

from __future__ import annotations

from orchestrator.config.dataset_files import DatasetFile
from orchestrator.config.model import StackSpec
from orchestrator.config.source import Loc
from orchestrator.runtimes import kinds_with, traits

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


def carried_problem(spec: StackSpec, loc: Loc, given: str,
                    found: DatasetFile) -> list[Problem]:
    """A checked dataset file that cannot reach its container on the runtime: on Kubernetes
    without a claim or node folder it goes in a ConfigMap, which holds 1 MiB."""
    k8s = spec.runtime.kubernetes
    limit = traits(spec.runtime.kind).file_object_bytes
    if (limit is not None and not (k8s.dataset_pvc or k8s.dataset_host_path)
            and found.size + len(found.path.name) > limit):
        field = ".".join(str(part) for part in loc)
        return [(loc, f"{field}: {given} is {found.size / 1024**2:.1f} MiB, above"
                      f" the {limit / 1024**2:g} MiB a ConfigMap holds; put it on a"
                      " PersistentVolumeClaim (runtime.kubernetes.dataset_pvc) or a node folder"
                      " (runtime.kubernetes.dataset_host_path)")]
    return []
