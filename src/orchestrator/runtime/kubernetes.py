"""The Kubernetes runtime: the chart's objects applied server-side, pods watched and triaged.

State lives in the cluster: every object carries the plan's labels; `ps`, `logs` and `down`
select by them. Objects are applied with server-side apply (field manager "orchestrator"), so
running `up` twice updates in place instead of failing or duplicating. Readiness is checked from
inside the cluster (exec in the client pod against the server's Service), and the benchmark and
the copy of its results run over exec, as `kubectl exec` would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from orchestrator.config.model import KubernetesSettings, StackSpec
from orchestrator.errors import EngineError, PreflightError, StartupError
from orchestrator.plan import LABEL_PREFIX, SCRIPTS_MOUNT, Plan
from orchestrator.readiness import Check
from orchestrator.render.kubernetes import LEADER_LABEL, render_kubernetes
from orchestrator.runtime.archive import safe_extract
from orchestrator.runtime.base import ComponentState, parse_timestamp

FIELD_MANAGER = "orchestrator"
PLURALS = {
    "Namespace": "namespaces",
    "ConfigMap": "configmaps",
    "Service": "services",
    "Pod": "pods",
    "Deployment": "deployments",
    "LeaderWorkerSet": "leaderworkersets",
    "Job": "jobs",
}
API_VERSIONS = {"Deployment": "apps/v1", "LeaderWorkerSet": "leaderworkerset.x-k8s.io/v1",
                "Job": "batch/v1"}
# Pods first so nothing restarts them; the namespace (only one orchestrator made) last.
# Jobs before pods, so that the Job controller does not replace the pods being deleted.
DELETE_ORDER = ("Job", "Pod", "LeaderWorkerSet", "Deployment", "Service", "ConfigMap")
DOWN_TIMEOUT_S = 180
_PULL_FAILURES = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName"}


class ApiFailure(Exception):
    """A request the API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class KubernetesRuntime:
    """Runs a plan on a Kubernetes cluster through the official client."""

    kind = "kubernetes"

    def __init__(self, spec: StackSpec | None, settings: KubernetesSettings) -> None:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        self.spec = spec
        self.namespace = settings.namespace
        self.settings = settings
        try:  # KUBECONFIG (read now: the client reads it only once, at import) or ~/.kube/config
            config.load_kube_config(
                config_file=os.environ.get("KUBECONFIG") or "~/.kube/config",
                context=settings.context,
            )
        except (ConfigException, FileNotFoundError, TypeError) as kube_error:
            try:
                config.load_incluster_config()
            except ConfigException:
                raise EngineError(
                    f"no usable Kubernetes configuration ({' '.join(str(kube_error).split())[:200]});"
                    " set KUBECONFIG, choose a context with --context, or run inside a cluster"
                ) from None
        self.api = client.ApiClient()
        self.core = client.CoreV1Api(self.api)
        self.host = self.api.configuration.host
        self.server_version = self._request("GET", "/version").get("gitVersion", "?")

    # -- starting ----------------------------------------------------------------------------

    def preflight(self, plan: Plan) -> None:
        """The namespace exists (or will be created); nothing is started here."""
        if self.settings.create_namespace:
            return
        try:
            self._request("GET", f"/api/v1/namespaces/{self.namespace}")
        except ApiFailure as exc:
            if exc.status == 404:
                raise PreflightError(
                    f"namespace {self.namespace} (runtime.kubernetes.namespace) does not exist;"
                    " create it or set runtime.kubernetes.create_namespace: true"
                ) from None
            raise EngineError(f"cannot read namespace {self.namespace}: {exc}") from None

    def up(self, plan: Plan, roles: Sequence[str] | None = None) -> None:
        """Apply the rendered objects, in the chart's order (namespace first); with `roles`,
        those of the other components are left out (shared objects are always applied)."""
        if self.spec is None:
            raise EngineError("starting a stack on Kubernetes needs its config")
        for objects in render_kubernetes(plan, self.spec).values():
            for obj in objects:
                role = (obj["metadata"].get("labels") or {}).get(f"{LABEL_PREFIX}component")
                if roles is not None and role is not None and role not in roles:
                    continue
                try:
                    self._request("PATCH", _path(obj), body=obj)
                except ApiFailure as exc:
                    kind, name = obj["kind"], obj["metadata"]["name"]
                    if exc.status == 404 and obj["kind"] == "LeaderWorkerSet":
                        raise StartupError(
                            "the cluster has no LeaderWorkerSet API: install LWS"
                            " (leaderworkerset.x-k8s.io) or set server.nodes to 1"
                        ) from None
                    raise StartupError(f"the cluster refused {kind} {name}: {exc.message}") from None

    def readiness(self, plan: Plan, role: str) -> list[Check]:
        """Pods ready, then /health and the model, checked from the client pod via the Service."""
        component = plan.component(role)
        url, check = _http_check(plan, role)
        if component.served_model:
            check += ["--model", component.served_model]
        return [
            _PodReady(self, plan.project, role),
            _PodReady(self, plan.project, "client"),
            _ExecCheck(self, plan, "client", check, f"{url}/health and /v1/models, from the client pod"),
        ]

    def wait(self, plan: Plan, role: str) -> int:
        """Poll the component's pod until it has Succeeded or Failed; return its exit code."""
        while True:
            pod = self._require_pod(plan.project, role)
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                for container in pod["status"].get("containerStatuses") or []:
                    terminated = (container.get("state") or {}).get("terminated")
                    if terminated:
                        return int(terminated.get("exitCode", 1))
                return 0 if pod["status"]["phase"] == "Succeeded" else 1
            time.sleep(2)

    def alive(self, plan: Plan, role: str) -> str | None:
        """None while the pod can still become ready; else what went wrong and the likely fix."""
        for pod in self._pods(plan.project, role):
            problem = triage(pod)
            if problem:
                return problem
        return None

    # -- using -------------------------------------------------------------------------------

    def exec(self, plan: Plan, role: str, argv: list[str], on_output: Callable[[str], None]) -> int:
        """Run argv in the component's pod (as `kubectl exec`), streaming its output."""
        ws = self._exec_stream(self._pod_name(plan.project, role), argv, binary=False)
        while ws.is_open():
            ws.update(timeout=1)
            for text in (ws.read_stdout(), ws.read_stderr()):
                if text:
                    on_output(text)
        for text in (ws.read_stdout(), ws.read_stderr()):
            if text:
                on_output(text)
        return _exit_code(ws, argv)

    def copy_out(self, plan: Plan, role: str, path: str, dest: Path,
                 keep_tree: bool = False) -> list[Path]:
        """Copy files under `path` out of the pod: tar over exec, extracted safely."""
        ws = self._exec_stream(self._pod_name(plan.project, role), ["tar", "cf", "-", "-C", path, "."],
                               binary=True)
        chunks = []
        while ws.is_open():
            ws.update(timeout=1)
            chunk = ws.read_stdout()
            if chunk:
                chunks.append(chunk)
        chunks.append(ws.read_stdout())
        if _exit_code(ws, ["tar"]) != 0 or not any(chunks):
            return []  # nothing there yet, as with Docker's NotFound
        return safe_extract(chunks, dest, keep_tree=PurePosixPath(path).name if keep_tree else None)

    def logs(self, project: str, role: str, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        """The pod's log; after a crash (restarts > 0), the crashed container's unless following."""
        pod = self._require_pod(project, role)
        restarted = any(s.get("restartCount", 0) for s in pod.get("status", {}).get("containerStatuses") or [])
        response = self.core.read_namespaced_pod_log(
            pod["metadata"]["name"], self.namespace, follow=follow, tail_lines=tail,
            previous=restarted and not follow, _preload_content=False,
        )
        for chunk in response.stream(4096):
            yield chunk.decode("utf-8", errors="replace")

    # -- inspecting and stopping ---------------------------------------------------------------

    def status(self, project: str) -> list[ComponentState]:
        """The project's pods: phase, readiness, restarts, node, age."""
        rows = []
        now = time.time()
        for pod in self._list("Pod", _selector(project)):
            meta, status = pod["metadata"], pod.get("status", {})
            containers = status.get("containerStatuses") or []
            ready = sum(1 for c in containers if c.get("ready"))
            state = status.get("phase", "Unknown")
            waiting = _waiting_reason(pod)
            if meta.get("deletionTimestamp"):
                state = "Terminating"
            elif waiting:
                state = waiting
            created = parse_timestamp(meta.get("creationTimestamp"))
            rows.append(ComponentState(
                name=meta["name"],
                component=(meta.get("labels") or {}).get(f"{LABEL_PREFIX}component", "?"),
                image=pod["spec"]["containers"][0].get("image", ""),
                state=state,
                health=f"{ready}/{len(pod['spec']['containers'])} ready",
                ports="",
                age_s=now - created if created else None,
                restarts=sum(c.get("restartCount", 0) for c in containers),
                node=pod["spec"].get("nodeName", ""),
            ))
        return sorted(rows, key=lambda r: r.name)

    def down(self, project: str) -> list[str]:
        """Delete everything labelled with the project, then wait until it is gone."""
        selector = _selector(project)
        removed = []
        for kind in DELETE_ORDER:
            for obj in self._list(kind, selector):
                if self._delete(obj):
                    removed.append(f"{kind.lower()} {obj['metadata']['name']}")
        for ns in self._list("Namespace", selector):
            if self._delete(ns):
                removed.append(f"namespace {ns['metadata']['name']}")
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while any(self._list(kind, selector) for kind in (*DELETE_ORDER, "Namespace")):
            if time.monotonic() > deadline:
                raise EngineError(
                    f"project {project}'s objects are still terminating after {DOWN_TIMEOUT_S}s;"
                    f" check `kubectl get all -n {self.namespace} -l {selector}`"
                )
            time.sleep(1)
        return removed

    def describe(self, plan: Plan) -> dict[str, Any]:
        """The cluster's version, where the stack ran, its images and the server's vLLM."""
        info: dict[str, Any] = {
            "runtime": "kubernetes",
            "cluster_version": self.server_version,
            "api_server": self.host,
            "namespace": self.namespace,
            "images": {c.role: {"image": c.image} for c in plan.components},
        }
        if plan.has("server"):
            out: list[str] = []
            code = self.exec(plan, "client", [*_http_check(plan, "server")[1], "--version"], out.append)
            info["vllm"] = "".join(out).strip() if code == 0 else None
        return info

    # -- helpers -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, query: list[tuple[str, str]] | None = None,
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json"}
        params = list(query or [])
        payload = None
        if body is not None:
            # Server-side apply; JSON is valid YAML, and a string body is sent as it is.
            headers["Content-Type"] = "application/apply-patch+yaml"
            params += [("fieldManager", FIELD_MANAGER), ("force", "true")]
            payload = json.dumps(body)
        try:
            serialized = self.api.param_serialize(
                method=method, resource_path=path, query_params=params, header_params=headers,
                body=payload, auth_settings=["BearerToken"],
            )
            response = self.api.call_api(*serialized)
            response.read()
        except ApiException as exc:
            raise ApiFailure(exc.status or 0, exc.reason or "", str(exc.body or "")[:300]) from None
        except HTTPError as exc:
            raise EngineError(f"cannot reach the Kubernetes API at {self.api.configuration.host}:"
                              f" {type(exc).__name__}") from None
        try:
            data = json.loads(response.data or b"{}")
        except ValueError:  # a proxy's or gateway's own error page
            data = {"message": response.data[:300].decode("utf-8", errors="replace")}
        if response.status >= 400:
            raise ApiFailure(response.status, data.get("reason", ""), data.get("message", ""))
        return data

    def _list(self, kind: str, selector: str) -> list[dict[str, Any]]:
        path = _collection_path(API_VERSIONS.get(kind, "v1"), kind, self.namespace)
        try:
            return self._request("GET", path, [("labelSelector", selector)]).get("items", [])
        except ApiFailure as exc:
            if exc.status == 404:  # an API the cluster does not have (LWS): nothing of ours there
                return []
            raise EngineError(f"cannot list {PLURALS[kind]}: {exc}") from None

    def _delete(self, obj: dict[str, Any]) -> bool:
        if obj["metadata"].get("deletionTimestamp"):
            return False
        try:
            self._request("DELETE", _path(obj))
        except ApiFailure as exc:
            if exc.status == 404:
                return False
            raise EngineError(f"cannot delete {obj['kind']} {obj['metadata']['name']}: {exc}") from None
        return True

    def _pods(self, project: str, role: str) -> list[dict[str, Any]]:
        pods = [p for p in self._list("Pod", f"{_selector(project)},{LABEL_PREFIX}component={role}")
                if not p["metadata"].get("deletionTimestamp")]
        # With several nodes, the leader is the one that serves and logs the API.
        return sorted(pods, key=lambda p: (p["metadata"].get("labels") or {}).get(LEADER_LABEL) != "leader")

    def _require_pod(self, project: str, role: str) -> dict[str, Any]:
        pods = self._pods(project, role)
        if not pods:
            raise EngineError(f"project {project} has no {role} pod in namespace {self.namespace};"
                              f" is it up? (`orchestrator ps -p {project}`)")
        return pods[0]

    def _pod_name(self, project: str, role: str) -> str:
        return str(self._require_pod(project, role)["metadata"]["name"])

    def _exec_stream(self, pod: str, argv: list[str], binary: bool) -> Any:
        from kubernetes.stream import stream

        return stream(self.core.connect_get_namespaced_pod_exec, pod, self.namespace, command=argv,
                      stderr=True, stdin=False, stdout=True, tty=False, binary=binary,
                      _preload_content=False)


class _PodReady:
    """A component's pod is Ready; while waiting, says which phase it is in."""

    def __init__(self, runtime: KubernetesRuntime, project: str, role: str) -> None:
        self.runtime, self.project, self.role = runtime, project, role

    def __call__(self) -> str | None:
        pods = self.runtime._pods(self.project, self.role)  # noqa: SLF001 - same module
        if not pods:
            return f"{self.role} pod: not created yet"
        pod = pods[0]
        status = pod.get("status", {})
        if _condition(pod, "Ready") == "True":
            return None
        phase = _waiting_reason(pod) or status.get("phase", "Pending")
        if phase == "Running":
            phase = "Running, not ready yet"
        return f"{self.role} pod {pod['metadata']['name']}: {phase}"


class _ExecCheck:
    """An exec in a component's pod exits 0."""

    def __init__(self, runtime: KubernetesRuntime, plan: Plan, role: str, argv: list[str], what: str) -> None:
        self.runtime, self.plan, self.role, self.argv, self.what = runtime, plan, role, argv, what

    def __call__(self) -> str | None:
        output: list[str] = []
        try:
            code = self.runtime.exec(self.plan, self.role, self.argv, output.append)
        except Exception as exc:  # noqa: BLE001 - an exec that fails now means "not ready yet"
            return f"{self.what}: exec failed ({type(exc).__name__})"
        if code == 0:
            return None
        said = " ".join("".join(output).split())[:120]
        return f"{self.what}: {said or f'exit {code}'}"


def _exit_code(ws: Any, argv: list[str]) -> int:
    """The exit status the API server sent on the error channel when the command ended."""
    try:
        return int(ws.returncode)
    except (TypeError, KeyError, ValueError, IndexError):
        raise EngineError(
            f"`{' '.join(argv[:3])} ...` in the pod ended without an exit status; the connection"
            " to the API server was lost"
        ) from None


def triage(pod: dict[str, Any]) -> str | None:
    """The usual ways a pod fails to start, in words with the likely fix; None if none applies."""
    status = pod.get("status", {})
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            message = condition.get("message", "")
            if "taint" in message:  # before GPUs: a GPU taint names nvidia.com/gpu too
                fix = "the nodes are tainted: add tolerations in runtime.kubernetes.tolerations"
            elif "Insufficient nvidia.com/gpu" in message:
                fix = "no node has that many free nvidia.com/gpu: lower server.gpus or free GPUs"
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
            return (f"cannot pull image {image} ({reason}: {waiting.get('message', '')});"
                    " check server.image, the registry and its pull secret")
        if last.get("reason") == "OOMKilled":
            return ("was OOM-killed (exit 137); give the pod more memory, or lower"
                    " server.max_num_seqs or server.max_model_len")
        if reason == "CrashLoopBackOff":
            return (f"keeps crashing (CrashLoopBackOff, {container.get('restartCount', 0)} restarts,"
                    f" last exit code {last.get('exitCode', '?')})")
        if reason == "CreateContainerConfigError":
            return f"cannot be configured ({waiting.get('message', '')}); check Secrets and ConfigMaps"
    return None


def _http_check(plan: Plan, role: str) -> tuple[str, list[str]]:
    """The component's Service URL, and http_check.py against it (run in the client pod)."""
    component = plan.component(role)
    url = f"http://{component.name}:{component.ports[0].container_port}"
    return url, ["python3", f"{SCRIPTS_MOUNT}/http_check.py", url]


def _waiting_reason(pod: dict[str, Any]) -> str | None:
    """Why the pod's first waiting container waits (ContainerCreating, CrashLoopBackOff, ...)."""
    for container in pod.get("status", {}).get("containerStatuses") or []:
        if "waiting" in container.get("state", {}):
            return container["state"]["waiting"].get("reason")
    return None


def _condition(pod: dict[str, Any], kind: str) -> str | None:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status")
    return None


def _selector(project: str) -> str:
    return f"{LABEL_PREFIX}project={project}"


def _collection_path(api_version: str, kind: str, namespace: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if kind == "Namespace":
        return f"{prefix}/namespaces"
    return f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}"


def _path(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    base = _collection_path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""))
    return f"{base}/{meta['name']}"
