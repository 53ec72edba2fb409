"""A FAKE Kubernetes API server, kept only for what the real single-node cluster of the tests
cannot show (see README.md beside it): GPU pods that run, and a cluster without LeaderWorkerSet.

It speaks the paths, verbs and payloads of the Kubernetes API that the official Python client
uses (server-side apply, list by label selector, delete, pod logs). Objects live in memory. Pods
are simulated: a Deployment, a Job or a LeaderWorkerSet gets a pod whose status moves along a
scripted timeline (see `PodScript`).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# (api prefix, plural) -> kind, for the resources orchestrator uses.
KINDS = {
    ("api/v1", "namespaces"): "Namespace",
    ("api/v1", "configmaps"): "ConfigMap",
    ("api/v1", "services"): "Service",
    ("api/v1", "pods"): "Pod",
    ("apis/apps/v1", "deployments"): "Deployment",
    ("apis/batch/v1", "jobs"): "Job",
    ("apis/leaderworkerset.x-k8s.io/v1", "leaderworkersets"): "LeaderWorkerSet",
}

Status = dict[str, Any]


@dataclass
class PodScript:
    """A pod's status over time: (seconds after creation, status) steps; the last one stays.
    A status's container named "main" stands for the pod's first container."""

    steps: list[tuple[float, Status]]
    logs: str = ""

    def status_at(self, age: float) -> Status:
        current = self.steps[0][1]
        for at, status in self.steps:
            if age >= at:
                current = status
        return copy.deepcopy(current)


def _container(name: str, ready: bool, state: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": 0, "image": "fake", "imageID": "",
            "state": state}


def waiting(reason: str) -> Status:
    """Scheduled, with its container waiting for `reason`."""
    return {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "False"}],
            "containerStatuses": [_container("main", False, {"waiting": {"reason": reason}})]}


def running(ready: bool) -> Status:
    """Running, ready or not."""
    return {"phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [_container("main", ready, {"running": {"startedAt": "now"}})]}


def healthy_server(step: float = 0.3) -> PodScript:
    """Pending, then creating its container, then running, then ready."""
    return PodScript(steps=[(0, {"phase": "Pending"}),
                            (step, waiting("ContainerCreating")),
                            (2 * step, running(False)),
                            (3 * step, running(True))],
                     logs="INFO fake: Application startup complete.\n")


@dataclass
class FakePod:
    """What the fake keeps for a simulated pod besides its object."""

    script: PodScript
    created: float = field(default_factory=time.monotonic)
    containers: list[str] = field(default_factory=lambda: ["main"])

    def status(self) -> Status:
        """The pod's status now, its containers named as in its spec."""
        status = self.script.status_at(time.monotonic() - self.created)
        for entry in status.get("containerStatuses") or []:
            if entry["name"] == "main":
                entry["name"] = self.containers[0]
        return status


class FakeKubernetes:
    """The FAKE API server. `start()` serves on 127.0.0.1 in a thread; `url` is its address."""

    def __init__(self, server_script: Callable[[], PodScript] = healthy_server,
                 lws: bool = True) -> None:
        self.server_script = server_script
        self.lws = lws  # whether the cluster has the LeaderWorkerSet API (its CRD installed)
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], FakePod] = {}
        self.requests: list[tuple[str, str]] = []
        self.deletions_take_s = 0.3  # objects linger while "terminating", as in a real cluster
        self._deleted_at: dict[tuple[str, str, str, str], float] = {}
        self._uid = itertools.count(1)
        # Like a real cluster, it starts with a "default" namespace.
        self.objects[("api/v1", "namespaces", "", "default")] = {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "uid": "fake-0"}}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- serving -------------------------------------------------------------------------

    def start(self) -> FakeKubernetes:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def kubeconfig(self, path: str) -> str:
        """Write a kubeconfig that points at this fake; return its path."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        return path

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/version", self._version)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", self._log)
        app.router.add_route("*", "/api/v1/namespaces", self._collection)
        app.router.add_route("*", "/api/v1/namespaces/{name}", self._item)
        for prefix, plural in KINDS:
            if plural == "namespaces" or (plural == "leaderworkersets" and not self.lws):
                continue
            app.router.add_route("*", f"/{prefix}/namespaces/{{ns}}/{plural}", self._collection)
            app.router.add_route("*", f"/{prefix}/namespaces/{{ns}}/{plural}/{{name}}", self._item)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        ready.set()
        self._loop.run_forever()

    # -- the object store ------------------------------------------------------------------

    def _key(self, request: web.Request) -> tuple[str, str, str, str]:
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
            return ("api/v1", "namespaces", "", request.match_info.get("name", ""))
        index = parts.index("namespaces")
        prefix = "/".join(parts[:index])
        return (prefix, parts[index + 2], parts[index + 1], request.match_info.get("name", ""))

    def _live(self, key: tuple[str, str, str, str]) -> dict[str, Any] | None:
        obj = self.objects.get(key)
        deleted = self._deleted_at.get(key)
        if obj is not None and deleted is not None and time.monotonic() - deleted >= self.deletions_take_s:
            del self.objects[key]
            self._deleted_at.pop(key)
            self.pods.pop((key[2], key[3]), None)
            return None
        return obj

    def find(self, kind: str, namespace: str = "") -> list[dict[str, Any]]:
        """Objects of a kind (for tests' assertions)."""
        return [self._view(k, o) for k, o in list(self.objects.items())
                if KINDS[(k[0], k[1])] == kind and (not namespace or k[2] == namespace)
                and self._live(k) is not None]

    def _view(self, key: tuple[str, str, str, str], obj: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(obj)
        pod = self.pods.get((key[2], key[3])) if key[1] == "pods" else None
        if pod is not None:
            view["status"] = pod.status()
        if key in self._deleted_at:
            view["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        return view

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake"})

    async def _collection(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        prefix, plural, namespace, _ = self._key(request)
        if request.method == "POST":
            body = await request.json()
            return self._store((prefix, plural, namespace, body["metadata"]["name"]), body, create=True)
        if request.method != "GET":
            return _status(405, "MethodNotAllowed", "method not allowed")
        parts = [p for p in request.query.get("labelSelector", "").split(",") if p]
        selector = dict(part.split("=", 1) for part in parts if "=" in part)
        present = [part for part in parts if "=" not in part]  # "key": the label exists
        items = []
        for key, obj in list(self.objects.items()):
            if key[:2] != (prefix, plural) or (namespace and key[2] != namespace):
                continue
            if self._live(key) is None:
                continue
            labels = obj["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()) and \
                    all(k in labels for k in present):
                # As a real API server does, a list's items carry no apiVersion and kind.
                view = self._view(key, obj)
                items.append({k: v for k, v in view.items() if k not in ("apiVersion", "kind")})
        kind = KINDS[(prefix, plural)]
        return web.json_response({"kind": f"{kind}List", "apiVersion": "v1",
                                  "metadata": {"resourceVersion": "1"}, "items": items})

    async def _item(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        key = self._key(request)
        if request.method == "GET":
            obj = self._live(key)
            if obj is None:
                return _status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
            return web.json_response(self._view(key, obj))
        if request.method == "PATCH":
            if request.content_type != "application/apply-patch+yaml":
                return _status(415, "UnsupportedMediaType", "only server-side apply is faked")
            if "fieldManager" not in request.query:
                return _status(400, "BadRequest", "fieldManager is required for apply")
            return self._store(key, json.loads(await request.text()), create=False)
        if request.method == "DELETE":
            if self._live(key) is None:
                return _status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
            self._deleted_at.setdefault(key, time.monotonic())
            return web.json_response({"kind": "Status", "status": "Success"})
        return _status(405, "MethodNotAllowed", "method not allowed")

    def _store(self, key: tuple[str, str, str, str], body: dict[str, Any], create: bool) -> web.Response:
        existing = self._live(key)
        if create and existing is not None:
            return _status(409, "AlreadyExists", f'{key[1]} "{key[3]}" already exists')
        if existing is not None and key in self._deleted_at:
            return _status(409, "Conflict", f'{key[1]} "{key[3]}" is being deleted')
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if key[2]:
            meta["namespace"] = key[2]
        meta["uid"] = existing["metadata"]["uid"] if existing else f"fake-{next(self._uid)}"
        meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
        self.objects[key] = obj
        kind = KINDS[(key[0], key[1])]
        if existing is None:
            self._controller(kind, key, obj)
        return web.json_response(self._view(key, obj), status=201 if existing is None else 200)

    def _controller(self, kind: str, key: tuple[str, str, str, str], obj: dict[str, Any]) -> None:
        """What controllers and the kubelet would do: make and run pods (simulated)."""
        namespace = key[2]
        if kind == "Pod":
            self.pods[(namespace, key[3])] = FakePod(PodScript(steps=[(0, running(True))]),
                                                     containers=_names(obj["spec"]))
        elif kind in ("Deployment", "LeaderWorkerSet", "Job"):
            if kind == "LeaderWorkerSet":
                template = obj["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
            else:
                template = obj["spec"]["template"]
            count = obj["spec"].get("completions", 1) if kind == "Job" else 1
            for index in range(count):
                name = f"{key[3]}-{index}-fake" if kind == "Job" else f"{key[3]}-fake-0"
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": namespace,
                                    "labels": template["metadata"]["labels"],
                                    "uid": f"fake-{next(self._uid)}",
                                    "creationTimestamp": "2026-01-01T00:00:00Z"},
                       "spec": {**template["spec"], "nodeName": f"fake-node-{index + 1}"}}
                self.objects[("api/v1", "pods", namespace, name)] = pod
                self.pods[(namespace, name)] = FakePod(self.server_script(),
                                                       containers=_names(template["spec"]))

    # -- logs ----------------------------------------------------------------------------

    async def _log(self, request: web.Request) -> web.Response:
        pod = self.pods.get((request.match_info["ns"], request.match_info["name"]))
        if pod is None:
            return _status(404, "NotFound", "pod not found")
        refused = _container_refused(pod, request)
        if refused is not None:
            return refused
        text = pod.script.logs
        tail = request.query.get("tailLines")
        if tail:
            text = "".join(text.splitlines(keepends=True)[-int(tail):])
        return web.Response(text=text, content_type="text/plain")

def _names(pod_spec: dict[str, Any]) -> list[str]:
    return [c["name"] for c in pod_spec.get("containers") or []] or ["main"]


def _container_refused(pod: FakePod, request: web.Request) -> web.Response | None:
    """A real API server wants the container named when a pod has several, and a real one."""
    container = request.query.get("container")
    if container is None and len(pod.containers) > 1:
        return _status(400, "BadRequest", f"a container name must be specified, choose one of:"
                                          f" {pod.containers}")
    if container is not None and container not in pod.containers:
        return _status(400, "BadRequest", f"container {container} is not valid for this pod")
    return None


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "reason": reason, "message": message, "code": code}, status=code)
