"""What more than one runtime says or checks the same way: a port's availability on this host,
a serving component's readiness and version over HTTP, and how a component ended."""

from __future__ import annotations

import errno
import socket

from orchestrator.names import fields_of
from orchestrator.readiness import Check, HttpOk, ModelListed


def port_free(port: int) -> bool:
    """Whether a TCP port can be bound on all of this host's addresses."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


def serving_checks(base_url: str, served_model: str | None) -> list[Check]:
    """/health answers 200, and /v1/models lists the served model when there is one."""
    return [HttpOk(f"{base_url}/health"),
            *([ModelListed(base_url, served_model)] if served_model else [])]


def serving_version(base_url: str) -> str | None:
    """The vLLM version a server reports at /version, or None."""
    import requests

    try:
        version = requests.get(f"{base_url}/version", timeout=5).json().get("version")
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return str(version) if version is not None else None


def ended(role: str, code: int | None, oom: bool) -> str:
    """How a component's main process ended, naming the field that lowers its memory when the
    kernel killed it for memory."""
    if oom:
        return (f"exited with code {code} (OOM-killed: yes); give it more memory, or lower"
                f" {fields_of(role).memory_fix}")
    return f"exited with code {code} (OOM-killed: no)"
