"""Checks on this host that more than one runtime makes: a port's availability, a server's
version."""

from __future__ import annotations

import errno
import socket


def port_free(port: int) -> bool:
    """Whether a TCP port can be bound on all of this host's addresses."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


def server_version(base_url: str) -> str | None:
    """The vLLM version a server reports at /version, or None."""
    import requests

    try:
        return requests.get(f"{base_url}/version", timeout=5).json().get("version")
    except (requests.RequestException, ValueError, AttributeError):
        return None
