"""Reading pods: why one fails to start (in words with the likely fix, naming the config field
of the component that failed), what it waits for, and how its main container ended."""

from __future__ import annotations

from typing import Any

from orchestrator.names import fields_of

_PULL_FAILURES = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName"}
CANNOT_PULL = "cannot pull image"  # how triage's words for a pull failure begin


def triage(pod: dict[str, Any], role: str) -> str | None:
    """The usual ways a pod fails to start; None if none applies."""
    fields = fields_of(role)
    status = pod.get("status", {})
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            message = condition.get("message", "")
            if "taint" in message:  # before GPUs: a GPU taint names nvidia.com/gpu too
                fix = "the nodes are tainted: add tolerations in runtime.kubernetes.tolerations"
            elif "Insufficient nvidia.com/gpu" in message:
                fix = f"no node has that many free nvidia.com/gpu: lower {fields.gpus} or free GPUs"
            elif "anti-affinity" in message:
                nodes = fields.field("nodes")
                fix = (f"each of the {nodes} pods needs a node of its own: lower {nodes} or add"
                       " schedulable nodes")
            elif "persistentvolumeclaim" in message:
                fix = ("create that PersistentVolumeClaim in the namespace, or change"
                       " runtime.kubernetes.model_cache_pvc, compile_cache_pvc or train_output_pvc")
            elif "node affinity" in message or "selector" in message:
                fix = "no node matches runtime.kubernetes.node_selector"
            else:
                fix = "see `kubectl describe pod`"
            return f"cannot be scheduled ({message}); {fix}"
    for container in status.get("containerStatuses") or []:
        waiting = container.get("state", {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        last = (container.get("lastState") or {}).get("terminated") or {}
        if reason in _PULL_FAILURES:
            image = container.get("image") or pod["spec"]["containers"][0].get("image")
            return (f"{CANNOT_PULL} {image} ({reason}: {waiting.get('message', '')});"
                    f" check {fields.image}, the registry and its pull secret")
        if last.get("reason") == "OOMKilled":
            limit = _memory_limit(pod, container.get("name", ""))
            more = (f" at its memory limit {limit}; raise {fields.field('memory_limit')}" if limit
                    else "; give the pod more memory")
            return f"was OOM-killed (exit 137){more}, or lower {fields.memory_fix}"
        if reason == "CrashLoopBackOff":
            return (f"keeps crashing (CrashLoopBackOff, {container.get('restartCount', 0)} restarts,"
                    f" last exit code {last.get('exitCode', '?')})")
        if reason == "CreateContainerConfigError":
            return f"cannot be configured ({waiting.get('message', '')}); check Secrets and ConfigMaps"
    return None


def _memory_limit(pod: dict[str, Any], container: str) -> str | None:
    """The container's resources.limits.memory, if it has one."""
    for spec in pod.get("spec", {}).get("containers") or []:
        if spec.get("name") == container:
            limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
            return str(limit) if limit else None
    return None


def waiting_reason(pod: dict[str, Any]) -> str | None:
    """Why the pod's first waiting container waits (ContainerCreating, CrashLoopBackOff, ...)."""
    for container in pod.get("status", {}).get("containerStatuses") or []:
        if "waiting" in container.get("state", {}):
            reason: str | None = container["state"]["waiting"].get("reason")
            return reason
    return None


def condition(pod: dict[str, Any], name: str) -> str | None:
    """The status ("True", "False") of one of the pod's conditions, or None."""
    for entry in pod.get("status", {}).get("conditions") or []:
        if entry.get("type") == name:
            value: str | None = entry.get("status")
            return value
    return None


def container_state(pod: dict[str, Any], container: str) -> dict[str, Any]:
    """The current state of one container, init containers too ({"running": ...}, ...)."""
    status = pod.get("status", {})
    for entry in [*(status.get("containerStatuses") or []),
                  *(status.get("initContainerStatuses") or [])]:
        if entry.get("name") == container:
            state: dict[str, Any] = entry.get("state") or {}
            return state
    return {}


def how_it_ended(pod: dict[str, Any], container: str) -> str:
    """Why a pod that has ended did: the kubelet's reason for the whole pod (Evicted, OutOfcpu,
    a rejected admission) or the container's exit code with its terminated reason and message
    (StartError: the runtime could not start it)."""
    status = pod.get("status", {})
    if status.get("reason"):
        return f"failed ({status['reason']}: {' '.join(str(status.get('message', '')).split())[:200]})"
    terminated = container_state(pod, container).get("terminated") or {}
    code = main_exit_code(pod, container)
    why = " ".join(f"{terminated.get('reason', '')}: {terminated.get('message', '')}".split())
    return f"exited with code {code}" + (f" ({why[:200]})" if why.strip(": ") else "")


def replica_of(pod: dict[str, Any]) -> int:
    """The pod's rank in its component: an indexed Job's completion index, a LeaderWorkerSet
    pod's worker index (the leader's is 0); 0 for a component of one pod."""
    meta = pod.get("metadata", {})
    index = (meta.get("annotations") or {}).get("batch.kubernetes.io/job-completion-index") or \
        (meta.get("labels") or {}).get("leaderworkerset.sigs.k8s.io/worker-index") or "0"
    return int(index) if str(index).isdigit() else 0


def main_exit_code(pod: dict[str, Any], container: str) -> int | None:
    """The exit code of the pod's main container once it has ended, else None."""
    terminated = container_state(pod, container).get("terminated")
    if terminated:
        return int(terminated.get("exitCode", 1))
    phase = pod.get("status", {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return 0 if phase == "Succeeded" else 1
    return None


def restarted(pod: dict[str, Any]) -> bool:
    """Whether any of the pod's containers has restarted (its previous log tells why)."""
    return any(s.get("restartCount", 0) for s in pod.get("status", {}).get("containerStatuses") or [])


def pods_problem(pods: list[dict[str, Any]], role: str, fields: str | None = None) -> str | None:
    """What went wrong with one of the pods of component `role`, in words naming the config
    fields of `fields` (default: the role's own), or None while they can still become ready."""
    for pod in pods:
        problem = triage(pod, fields or role)
        # Pods that are never restarted (a Job's) end for good when the main container does,
        # any pod when it reaches a final phase (evicted, refused by the kubelet); the
        # others' crashes show as CrashLoopBackOff above.
        final = pod.get("status", {}).get("phase") in ("Failed", "Succeeded")
        if problem is None and main_exit_code(pod, role) is not None and \
                (final or pod["spec"].get("restartPolicy") == "Never"):
            problem = how_it_ended(pod, role)
        if problem:
            rank = replica_of(pod)  # a pod of a component across nodes other than rank 0
            return f"(its rank {rank} pod {pod['metadata']['name']}) {problem}" if rank \
                else problem
    return None
