"""Talking to the Kubernetes API: the kubeconfig, REST requests through the official client's
connection (server-side apply, list by label, delete), and exec streams. No lifecycle here."""

from __future__ import annotations

import json
import os
from typing import Any

from orchestrator.config.secrets import secret_text
from orchestrator.errors import EngineError
from orchestrator.plan import Scope
from orchestrator.terminal import plain

FIELD_MANAGER = "orchestrator"
PLURALS = {
    "Namespace": "namespaces",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "Pod": "pods",
    "Deployment": "deployments",
    "LeaderWorkerSet": "leaderworkersets",
    "Job": "jobs",
}
API_VERSIONS = {"Deployment": "apps/v1", "LeaderWorkerSet": "leaderworkerset.x-k8s.io/v1",
                "Job": "batch/v1"}


class ApiFailure(Exception):
    """A request the API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class Transport:
    """One connection to a cluster, acting in one namespace."""

    def __init__(self, scope: Scope) -> None:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        self.namespace = scope.namespace
        try:  # KUBECONFIG (read now: the client reads it only once, at import) or ~/.kube/config
            config.load_kube_config(  # type: ignore[no-untyped-call]  # the client has no types
                config_file=os.environ.get("KUBECONFIG") or "~/.kube/config",
                context=scope.context,
            )
        except Exception as kube_error:  # noqa: BLE001 - any file may be named: binary, YAML junk
            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except ConfigException:
                raise EngineError(
                    f"no usable Kubernetes configuration ({_describe(kube_error)}); set KUBECONFIG,"
                    " choose a context with --context, or run inside a cluster"
                ) from None
        self.api = client.ApiClient()
        self.core = client.CoreV1Api(self.api)
        self.host = self.api.configuration.host

    def request(self, method: str, path: str, query: list[tuple[str, str]] | None = None,
                body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One REST call; a `body` is sent as a server-side apply. Raises ApiFailure for an
        error status, EngineError when the API server cannot be reached."""
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
            response.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:
            raise ApiFailure(exc.status or 0, exc.reason or "", str(exc.body or "")[:300]) from None
        except HTTPError as exc:
            raise EngineError(f"cannot reach the Kubernetes API at {self.host}:"
                              f" {type(exc).__name__}") from None
        data = status_body(response.data)
        if response.status >= 400:
            raise ApiFailure(response.status, data.get("reason", ""), data.get("message", ""))
        return dict(data)

    def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply of one object (created, or updated in place)."""
        self.request("PATCH", object_path(obj), body=obj)

    def find(self, kind: str, selector: str) -> list[dict[str, Any]]:
        """The objects of a kind in the namespace that match a label selector."""
        path = collection_path(API_VERSIONS.get(kind, "v1"), kind, self.namespace)
        try:
            items: list[dict[str, Any]] = self.request(
                "GET", path, [("labelSelector", selector)]).get("items", [])
        except ApiFailure as exc:
            if exc.status == 404:  # an API the cluster does not have (LWS): nothing of ours there
                return []
            raise EngineError(f"cannot list {PLURALS[kind]}: {exc}") from None
        for item in items:  # a real API server leaves these out of a list's items
            item.setdefault("apiVersion", API_VERSIONS.get(kind, "v1"))
            item.setdefault("kind", kind)
        return items

    def delete(self, obj: dict[str, Any]) -> bool:
        """Delete an object; False when it is already gone or going."""
        if obj["metadata"].get("deletionTimestamp"):
            return False
        try:
            self.request("DELETE", object_path(obj))
        except ApiFailure as exc:
            if exc.status == 404:
                return False
            raise EngineError(f"cannot delete {obj['kind']} {obj['metadata']['name']}: {exc}") from None
        return True

    def exec_stream(self, pod: str, container: str, argv: list[str], binary: bool,
                    stdin: bool = False) -> Any:
        """An open exec into one container of a pod (as `kubectl exec -c`, `-i` with `stdin`),
        not yet read."""
        from kubernetes import client
        from kubernetes.stream import stream

        # `stream` swaps its API client's request function while it opens the socket: its own
        # client keeps requests made meanwhile by other threads (readiness, copies) plain REST.
        own = client.CoreV1Api(client.ApiClient())
        return stream(own.connect_get_namespaced_pod_exec, pod, self.namespace,
                      container=container, command=argv, stderr=True, stdin=stdin, stdout=True,
                      tty=False, binary=binary, _preload_content=False)

    def log_stream(self, pod: str, container: str, follow: bool, tail: int | None,
                   previous: bool) -> Any:
        """A container's log as a streaming response (EngineError when the API refuses it,
        e.g. for a container still waiting to start)."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self.core.read_namespaced_pod_log(
                pod, self.namespace, container=container, follow=follow, tail_lines=tail,
                previous=previous, _preload_content=False)
        except ApiException as exc:
            said = str(status_body(exc.body).get("message", ""))
            raise EngineError(f"cannot read the log of {container} in pod {pod}:"
                              f" {plain(said) or exc.reason}") from None


def status_body(raw: bytes | str | None) -> dict[str, Any]:
    """An API server's answer as a dict (a Status object for an error); a page that is not JSON
    (a proxy's or gateway's own) as its first 300 characters under "message"."""
    text = raw.encode() if isinstance(raw, str) else raw or b""
    try:
        data = json.loads(text or b"{}")
    except ValueError:
        return {"message": text[:300].decode("utf-8", errors="replace")}
    return data if isinstance(data, dict) else {"message": str(data)[:300]}


def _describe(error: Exception) -> str:
    """What went wrong with a kubeconfig, without its content (it may hold tokens)."""
    if isinstance(error, UnicodeDecodeError):
        return "the kubeconfig file is not text"
    text = " ".join(str(error).split())[:200]
    return type(error).__name__ if not text or secret_text(text) else plain(text)


def exit_code(ws: Any, argv: list[str]) -> int:
    """The exit status the API server sent on the error channel when the command ended."""
    try:
        return int(ws.returncode)
    except (TypeError, KeyError, ValueError, IndexError):
        raise EngineError(
            f"`{' '.join(argv[:3])} ...` in the pod ended without an exit status; the connection"
            " to the API server was lost"
        ) from None


def collection_path(api_version: str, resource: str, namespace: str) -> str:
    """The REST path of a kind's collection in a namespace."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if resource == "Namespace":
        return f"{prefix}/namespaces"
    return f"{prefix}/namespaces/{namespace}/{PLURALS[resource]}"


def object_path(obj: dict[str, Any]) -> str:
    """The REST path of one object."""
    meta = obj["metadata"]
    base = collection_path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""))
    return f"{base}/{meta['name']}"
