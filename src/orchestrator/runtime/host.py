"""What more than one runtime says or checks the same way: a port's availability on this host,
a serving component's readiness and version over HTTP, and how a component ended."""

from __future__ import annotations

import errno
import socket
from typing import Any

from orchestrator.errors import EngineError
from orchestrator.names import fields_of
from orchestrator.plan import Component
from orchestrator.readiness import Check, HttpOk, ModelListed
from orchestrator.serving import engine_of


def port_free(port: int) -> bool:
    """Whether a TCP port can be bound on all of this host's addresses."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


def serving_checks(base_url: str, component: Component) -> list[Check]:
    """Its engine's health path answers 200, and /v1/models lists the served model when there
    is one."""
    health = component.probe.path if component.probe else "/health"
    served = component.served_model
    return [HttpOk(f"{base_url}{health}"), *([ModelListed(base_url, served)] if served else [])]


def version_path(component: Component) -> str:
    """Where the component's serving engine reports its version."""
    return engine_of(component.engine).version_path


def serving_version(base_url: str, component: Component) -> str | None:
    """The version a model server reports (JSON with a "version" key), or None."""
    import requests

    try:
        answer = requests.get(f"{base_url}{version_path(component)}", timeout=5).json()
        version = answer.get("version")
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return str(version) if version is not None else None


def serving_record(component: Component | None, version: str | None) -> dict[str, Any] | None:
    """describe's `serving`: the model server's engine and the version it reported."""
    if component is None:
        return None
    return {"engine": component.engine, "version": version}


def ended(role: str, code: int | None, oom: bool) -> str:
    """How a component's main process ended, naming the field that lowers its memory when the
    kernel killed it for memory."""
    if oom:
        return (f"exited with code {code} (OOM-killed: yes); give it more memory, or lower"
                f" {fields_of(role).memory_fix}")
    return f"exited with code {code} (OOM-killed: no)"


def only_one_replica(role: str, replica: int) -> None:
    """On one host every component is one container or process: any other replica is refused."""
    if replica:
        raise EngineError(f"the {role} has one replica on this runtime (0); --replica {replica}"
                          " names none (replicas are the pods of a component across nodes, on"
                          " Kubernetes)")
