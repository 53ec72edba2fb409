"""The Kubernetes runtime's lifecycle: the chart's objects applied server-side, pods watched,
exec and copies through the API, and removal by label.

State lives in the cluster: every object carries the plan's labels; `ps`, `logs` and `down`
select by them. Server-side apply (field manager "orchestrator") makes `up` twice update in
place. Readiness is checked from inside the cluster (exec in the client pod against the
server's Service), and the benchmark and the copy of its results run over exec, as `kubectl
exec` would. A trainer pod keeps a "results" container up after the trainer ends, so that its
output can still be copied out.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import DeadlineError, EngineError, PreflightError, StartupError
from orchestrator.fit.gpus import GpuInventory, node_inventory
from orchestrator.names import LABEL_COMPONENT, LABEL_NODE_ROLE, LABEL_PROJECT
from orchestrator.plan import Plan, Scope, Volume, VolumeSource
from orchestrator.readiness import Check
from orchestrator.runtime.base import (
    TERMINATING,
    ComponentState,
    describe_record,
    parse_timestamp,
    to_main_log,
)
from orchestrator.runtime.host import serving_record, version_path
from orchestrator.runtime.kubernetes.pod_files import copy_from_pod, send_folder_entries
from orchestrator.runtime.kubernetes.ready_checks import ExecCheck, PodReady, http_check
from orchestrator.runtime.kubernetes.render import RESULTS_CONTAINER, RESUME_INIT, render_kubernetes
from orchestrator.runtime.kubernetes.transport import ApiFailure, Transport, exit_code
from orchestrator.runtime.kubernetes.triage import (
    CANNOT_PULL,
    container_state,
    main_exit_code,
    pods_problem,
    replica_of,
    restarted,
    waiting_reason,
)

# Pods first so nothing restarts them; the namespace (only one orchestrator made) last.
# Jobs before pods, so that the Job controller does not replace the pods being deleted.
DELETE_ORDER = ("Job", "Pod", "LeaderWorkerSet", "Deployment", "Service", "ConfigMap", "Secret")
DOWN_TIMEOUT_S = 180
EXEC_WAIT_S = 600  # for a pod applied a moment ago to run (an image import, a busy node)
POLL_S = 2.0


class KubernetesRuntime:
    """Runs a plan on a Kubernetes cluster through the official client."""

    kind = "kubernetes"

    def __init__(self, scope: Scope) -> None:
        self.api = Transport(scope)
        self.namespace = scope.namespace
        self.server_version = self.api.request("GET", "/version").get("gitVersion", "?")

    # -- starting ----------------------------------------------------------------------------

    def preflight(self, plan: Plan) -> None:
        """The namespace exists (or will be created); nothing is started here."""
        if plan.placement.create_namespace:
            return
        try:
            self.api.request("GET", f"/api/v1/namespaces/{self.namespace}")
        except ApiFailure as exc:
            if exc.status == 404:
                raise PreflightError(
                    f"namespace {self.namespace} (runtime.kubernetes.namespace) does not exist;"
                    " create it or set runtime.kubernetes.create_namespace: true"
                ) from None
            raise EngineError(f"cannot read namespace {self.namespace}: {exc}") from None

    def gpus(self, plan: Plan) -> GpuInventory:
        """The GPUs of the nodes the plan's node_selector allows: the most one node offers."""
        selector = ",".join(f"{k}={v}" for k, v in plan.placement.node_selector.items())
        query = f"?labelSelector={urllib.parse.quote(selector)}" if selector else ""
        try:
            nodes = self.api.request("GET", f"/api/v1/nodes{query}").get("items") or []
        except ApiFailure as exc:  # a namespaced user may not list nodes: count unknown
            return GpuInventory(f"the cluster (nodes not readable: {exc.status})", None)
        return node_inventory(nodes)

    def up(self, plan: Plan, roles: Sequence[str] | None = None) -> None:
        """Apply the rendered objects, in the chart's order (namespace first); with `roles`,
        those of the other components are left out (shared objects are always applied)."""
        for objects in render_kubernetes(plan).values():
            for obj in objects:
                role = (obj["metadata"].get("labels") or {}).get(LABEL_COMPONENT)
                if roles is not None and role is not None and role not in roles:
                    continue
                try:
                    self.api.apply(obj)
                except ApiFailure as exc:
                    resource, name = obj["kind"], obj["metadata"]["name"]
                    if exc.status == 404 and resource == "LeaderWorkerSet":
                        raise StartupError(
                            "the cluster has no LeaderWorkerSet API: install LWS"
                            " (leaderworkerset.x-k8s.io) or set server.nodes to 1"
                        ) from None
                    raise StartupError(f"the cluster refused {resource} {name}: {exc.message}") from None
        for component in plan.components:
            resume = component.volume(VolumeSource.resume)
            if resume is not None and (roles is None or component.role in roles):
                self._send_resume(plan, component.role, component.nodes, resume)

    def _send_resume(self, plan: Plan, role: str, pods: int, volume: Volume) -> None:
        """Send the checkpoint into each of the role's pods as soon as its init container runs;
        the trainer there starts once it has it."""
        assert volume.host_path is not None
        sent: set[str] = set()
        deadline = time.monotonic() + EXEC_WAIT_S
        while len(sent) < pods:
            for pod in self._pods(plan.project, role):
                name = pod["metadata"]["name"]
                if name not in sent and "running" in container_state(pod, RESUME_INIT):
                    send_folder_entries(self.api, name, RESUME_INIT, Path(volume.host_path),
                                        volume.include, volume.mount_path)
                    sent.add(name)
            if len(sent) < pods:
                problem = pods_problem(self._pods(plan.project, role), role)
                if problem is not None or time.monotonic() > deadline:
                    raise StartupError(
                        f"the {role} pod could not be sent the checkpoint to resume from: it"
                        f" {problem or f'did not start within {EXEC_WAIT_S}s'}")
                time.sleep(POLL_S / 2)

    def readiness(self, plan: Plan, role: str) -> list[Check]:
        """Pods ready, then /health and the model, checked from the client pod via the Service."""
        component = plan.component(role)
        url, check = http_check(plan, role)
        if component.probe:
            check += ["--health", component.probe.path]
        if component.served_model:
            check += ["--model", component.served_model]
        checks: list[Check] = [PodReady(lambda: self._pods(plan.project, role), role)]
        if plan.has("client"):
            checks += [PodReady(lambda: self._pods(plan.project, "client"), "client"),
                       ExecCheck(lambda argv, on_output: self.exec(plan, "client", argv, on_output),
                                 check, f"{url}/health and /v1/models, from the client pod")]
        return checks

    def wait(self, plan: Plan, role: str, timeout_s: float) -> int:
        """Poll the component's pod until its main container has ended; return its exit code."""
        deadline = time.monotonic() + timeout_s
        while True:
            pod = self._require_pod(plan.project, role)
            code = main_exit_code(pod, role)
            if code is not None:
                return code
            if time.monotonic() >= deadline:
                raise DeadlineError(f"the {role} pod {pod['metadata']['name']} was still running"
                                    f" after {timeout_s:g}s")
            time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def alive(self, plan: Plan, role: str) -> str | None:
        """None while the pod can still become ready; else what went wrong and the likely fix.
        The client pod checks the others' readiness, so its end ends their wait too."""
        problem = pods_problem(self._pods(plan.project, role), role)
        if problem is None and role != "client" and plan.has("client"):
            # The client Pod is applied with the server, so one missing now was deleted. A
            # client that runs the server's image (client.image unset) fails to pull it for the
            # same reason, maybe first: the field to fix is the server's.
            pods = self._pods(plan.project, "client")
            client = pods_problem(pods, "client") if pods else "is gone (deleted)"
            if client and client.startswith(CANNOT_PULL) and \
                    plan.component("client").image == plan.component(role).image:
                client = pods_problem(pods, "client", role)
            if client:
                return f"could not be checked: the client pod, which checks it, {client}"
        return problem

    # -- using -------------------------------------------------------------------------------

    def exec(self, plan: Plan, role: str, argv: list[str], on_output: Callable[[str], None],
             logged: bool = False) -> int:
        """Run argv in the component's container (as `kubectl exec -c`), streaming its output.
        A pod still starting (applied a moment ago) is waited for until its container runs."""
        pod = self._started_pod(plan.project, role, ("running",), "run a command in")
        ws = self.api.exec_stream(pod["metadata"]["name"], role,
                                  to_main_log(argv) if logged else argv, binary=False)
        while ws.is_open():
            ws.update(timeout=1)
            # timeout=0: take what has come; the client's default blocks for the next frame.
            for text in (ws.read_stdout(timeout=0), ws.read_stderr(timeout=0)):
                if text:
                    on_output(text)
        for text in (ws.read_stdout(timeout=0), ws.read_stderr(timeout=0)):
            if text:
                on_output(text)
        return exit_code(ws, argv)

    def copy_out(self, plan: Plan, role: str, path: str, dest: Path,
                 keep_tree: bool = False, replace: bool = False) -> list[Path]:
        """Copy files under `path` out of the pod: tar over exec, extracted safely. After the
        main container has ended, the pod's results container serves the copy."""
        pod = self._require_pod(plan.project, role)
        container = role
        if "running" not in container_state(pod, role) and \
                "running" in container_state(pod, RESULTS_CONTAINER):
            container = RESULTS_CONTAINER
        return copy_from_pod(self.api, pod["metadata"]["name"], container, path, dest,
                             keep_tree, replace, plan.copy_limits)

    def logs(self, project: str, role: str, follow: bool = False, tail: int | None = None,
             replica: int = 0) -> Iterator[str]:
        """The log of the component's pod `replica` (its rank: the Job completion index or the
        LeaderWorkerSet worker index); after a crash (restarts > 0), the crashed container's
        unless following. Following waits until the container has started, as the stacks
        follow a pod applied a moment ago."""
        if follow:  # a Job's pod may not even exist yet
            pod = self._started_pod(project, role, ("running", "terminated"), "follow the log of",
                                    replica)
        else:
            pod = self._require_pod(project, role, replica)
        response = self.api.log_stream(pod["metadata"]["name"], role, follow, tail,
                                       previous=restarted(pod) and not follow)
        for chunk in response.stream(4096):
            yield chunk.decode("utf-8", errors="replace")

    # -- inspecting and stopping ---------------------------------------------------------------

    def status(self, project: str) -> list[ComponentState]:
        """The project's pods: phase, readiness, restarts, node, age."""
        rows = []
        now = time.time()
        for pod in self.api.find("Pod", _selector(project)):
            meta, status = pod["metadata"], pod.get("status", {})
            containers = status.get("containerStatuses") or []
            ready = sum(1 for c in containers if c.get("ready"))
            state = status.get("phase", "Unknown")
            waiting = waiting_reason(pod)
            if meta.get("deletionTimestamp"):
                state = TERMINATING
            elif waiting:
                state = waiting
            created = parse_timestamp(meta.get("creationTimestamp"))
            rows.append(ComponentState(
                name=meta["name"],
                component=(meta.get("labels") or {}).get(LABEL_COMPONENT, "?"),
                image=pod["spec"]["containers"][0].get("image", ""),
                state=state,
                health=f"{ready}/{len(pod['spec']['containers'])} ready",
                ports="",
                age_s=now - created if created else None,
                restarts=sum(c.get("restartCount", 0) for c in containers),
                node=pod["spec"].get("nodeName", ""),
                instance=meta.get("uid", ""),
            ))
        return sorted(rows, key=lambda r: r.name)

    def projects(self) -> list[str]:
        """The projects that have pods or Jobs in the namespace."""
        found = {(obj["metadata"].get("labels") or {}).get(LABEL_PROJECT)
                 for kind in ("Pod", "Job") for obj in self.api.find(kind, LABEL_PROJECT)}
        return sorted(name for name in found if name)

    def down(self, project: str) -> list[str]:
        """Delete everything labelled with the project, then wait until it is gone."""
        selector = _selector(project)
        removed = []
        for resource in (*DELETE_ORDER, "Namespace"):
            for obj in self.api.find(resource, selector):
                if self.api.delete(obj):
                    removed.append(f"{resource.lower()} {obj['metadata']['name']}")
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while any(self.api.find(resource, selector) for resource in (*DELETE_ORDER, "Namespace")):
            if time.monotonic() > deadline:
                raise EngineError(
                    f"project {project}'s objects are still terminating after {DOWN_TIMEOUT_S}s;"
                    f" check `kubectl get all -n {self.namespace} -l {selector}`"
                )
            time.sleep(1)
        return removed

    def describe(self, plan: Plan) -> dict[str, Any]:
        """The cluster's version, each component's image, the serving component's vLLM (asked
        from the client pod through its Service), and where the stack ran."""
        version = None
        serving = plan.serving()
        if serving is not None and plan.has("client"):
            out: list[str] = []
            argv = [*http_check(plan, serving.role)[1], "--version", version_path(serving)]
            code = self.exec(plan, "client", argv, out.append)
            version = "".join(out).strip() if code == 0 else None
        components = {c.role.value: {"image": c.image, "id": None} for c in plan.components}
        return describe_record("kubernetes", self.server_version, components,
                               serving_record(serving, version),
                               api_server=self.api.host, namespace=self.namespace)

    # -- helpers -------------------------------------------------------------------------------

    def _pods(self, project: str, role: str) -> list[dict[str, Any]]:
        pods = [p for p in self.api.find("Pod", f"{_selector(project)},{LABEL_COMPONENT}={role}")
                if not p["metadata"].get("deletionTimestamp")]
        # With several nodes, the leader (rank 0) is the one that serves, logs the API and
        # writes the trainer's output.
        return sorted(pods, key=lambda p: ((p["metadata"].get("labels") or {}).get(
            LABEL_NODE_ROLE) != "leader", replica_of(p)))

    def _require_pod(self, project: str, role: str, replica: int = 0) -> dict[str, Any]:
        pods = [p for p in self._pods(project, role) if replica_of(p) == replica]
        if not pods:
            which = f" {replica}" if replica else ""
            raise EngineError(f"project {project} has no {role} pod{which} in namespace"
                              f" {self.namespace}; is it up? (`orchestrator ps -p {project}`)")
        return pods[0]

    def _started_pod(self, project: str, role: str, states: tuple[str, ...],
                     doing: str, replica: int = 0) -> dict[str, Any]:
        """The component's pod `replica` once its container is in one of `states` (EngineError
        when it cannot get there, or is not there within EXEC_WAIT_S)."""
        deadline = time.monotonic() + EXEC_WAIT_S
        while True:
            for pod in self._pods(project, role):
                if replica_of(pod) == replica and \
                        any(state in container_state(pod, role) for state in states):
                    return pod
            problem = pods_problem(self._pods(project, role), role)
            if problem is not None or time.monotonic() > deadline:
                raise EngineError(f"cannot {doing} the {role}: its pod"
                                  f" {problem or f'has not started after {EXEC_WAIT_S}s'}")
            time.sleep(POLL_S / 2)


def _selector(project: str) -> str:
    return f"{LABEL_PROJECT}={project}"
