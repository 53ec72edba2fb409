"""What every stack's plan shares: labels, where the runtime acts, how components reach each
other, the model cache and the health probe."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.dataset_files import host_path
from orchestrator.config.fields import (
    COMPILE_CACHE_MOUNT,
    CompileCache,
    ModelCache,
    parse_size,
)
from orchestrator.config.model import StackSpec
from orchestrator.names import LABEL_COMPONENT, LABEL_PROJECT, LABEL_RUN, LABEL_STACK, Role
from orchestrator.plan.model import (
    CopyLimits,
    HttpProbe,
    Placement,
    Scope,
    Volume,
    VolumeSource,
    dataset_mount_path,
)
from orchestrator.runtimes import traits


def project_labels(project: str, stack: str, run_id: str | None = None) -> dict[str, str]:
    """Labels that mark what orchestrator owns; `ps`, `logs` and `down` select by them."""
    labels = {LABEL_PROJECT: project, LABEL_STACK: stack}
    if run_id:
        labels[LABEL_RUN] = run_id
    return labels


def component_labels(labels: dict[str, str], role: Role) -> dict[str, str]:
    """A component's labels: its stack's, and its role."""
    return {**labels, LABEL_COMPONENT: role.value}


def scope_of(spec: StackSpec) -> Scope:
    """Where the config's runtime acts (context and namespace on Kubernetes)."""
    k8s = spec.runtime.kubernetes
    return Scope(namespace=k8s.namespace, context=k8s.context)


def placement_of(spec: StackSpec) -> Placement:
    """Where the config lets components run on a cluster."""
    k8s = spec.runtime.kubernetes
    return Placement(create_namespace=k8s.create_namespace, node_selector=dict(k8s.node_selector),
                     tolerations=[t.model_dump(exclude_none=True) for t in k8s.tolerations])


def copy_limits_of(spec: StackSpec) -> CopyLimits:
    """How much a copy of results may bring home."""
    copy = spec.runtime.results_copy
    return CopyLimits(max_file_bytes=parse_size(copy.max_file),
                      max_total_bytes=parse_size(copy.max_total))


def network_of(spec: StackSpec, project: str) -> str:
    """The bridge network of a project on one host."""
    return spec.runtime.docker.network or f"{project}-net"


def service_host(spec: StackSpec, project: str, role: Role) -> str:
    """How other components reach a component: its container or Service name, or this host's
    loopback where the runtime runs services on it."""
    return "127.0.0.1" if traits(spec.runtime.kind).loopback_services else f"{project}-{role}"


def cache_volume(spec: StackSpec, cache: ModelCache) -> Volume:
    """The model cache, backed as the config says on each runtime."""
    k8s = spec.runtime.kubernetes
    return Volume(
        name="model-cache",
        mount_path=cache.mount_path,
        source=VolumeSource.model_cache,
        host_path=str(Path(cache.host_path).expanduser()) if cache.host_path else None,
        claim=k8s.model_cache_pvc,
        node_path=k8s.model_cache_host_path,
    )


def compile_cache_volume(spec: StackSpec, cache: CompileCache) -> Volume:
    """vLLM's compile cache (mounted where VLLM_CACHE_ROOT points), kept between starts."""
    k8s = spec.runtime.kubernetes
    return Volume(
        name="compile-cache",
        mount_path=COMPILE_CACHE_MOUNT,
        source=VolumeSource.compile_cache,
        host_path=str(Path(cache.host_path).expanduser()) if cache.host_path else None,
        claim=k8s.compile_cache_pvc,
        node_path=k8s.compile_cache_host_path,
    )


def dataset_volume(spec: StackSpec, given: str | None) -> list[Volume]:
    """The user's dataset file `given` (a path on this machine), read-only in the component
    that reads it; none when not given."""
    if not given:
        return []
    k8s = spec.runtime.kubernetes
    return [Volume(name="dataset", mount_path=dataset_mount_path(given), source=VolumeSource.dataset,
                   host_path=str(host_path(given)), read_only=True, claim=k8s.dataset_pvc,
                   node_path=k8s.dataset_host_path)]


def health_probe(port: int, budget_s: int, path: str = "/health") -> HttpProbe:
    """GET `path` on the component's port, within its start-up budget."""
    return HttpProbe(path=path, port=port, period_s=10, timeout_s=5, startup_budget_s=budget_s)
