"""A server the tool did not start (client.server_url): asked what it is from where the
benchmark runs (the client), and refused in one line before any point when it cannot be
benchmarked as configured."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orchestrator.config.model import StackSpec
from orchestrator.config.secrets import cut
from orchestrator.errors import EndpointError
from orchestrator.names import Role
from orchestrator.plan import SCRIPTS_MOUNT, Plan
from orchestrator.runtime.base import Runtime
from orchestrator.serving import engine_of
from orchestrator.terminal import safe

# The server fields that still mean something when the tool starts no server: the rest are the
# external server's own business, unknown to the tool, and the report says so.
# (engine: whose /metrics names the scraper reads.)
APPLIED_SERVER_FIELDS = frozenset({"engine", "model", "served_model_name", "image", "env"})


def not_applied(spec: StackSpec) -> list[str]:
    """The server fields the config sets that a server the tool does not start ignores."""
    assert spec.server is not None
    return sorted(f"server.{name}" for name in spec.server.model_fields_set
                  if name not in APPLIED_SERVER_FIELDS)


def not_applied_line(spec: StackSpec) -> str:
    """What the screen says before benchmarking a server the tool did not start."""
    ignored = not_applied(spec)
    head = f"client.server_url: benchmarking {safe(spec.client.server_url or '')}, a server this tool"
    tail = (f"; {', '.join(ignored)} not applied (its own settings are unknown)" if ignored
            else "; its settings are unknown")
    return f"{head} neither starts nor stops{tail}"


@dataclass(frozen=True)
class Endpoint:
    """What an external server said of itself."""

    url: str
    model: str
    max_model_len: int | None
    version: str | None
    metrics: bool

    def as_json(self) -> dict[str, Any]:
        """variants.json's `endpoint`."""
        return {"url": self.url, "model": self.model, "max_model_len": self.max_model_len,
                "version": self.version, "metrics": self.metrics}

    def text(self) -> str:
        """One line for the screen (rich markup: the server's words escaped)."""
        length = f"max length {self.max_model_len}" if self.max_model_len else "max length unknown"
        version = f"version {self.version}" if self.version else "version unknown"
        metrics = "/metrics scraped" if self.metrics else "no /metrics (server series unknown)"
        return safe(f"{self.url} serves {self.model}: {length}, {version}, {metrics}")


def meet_endpoint(runtime: Runtime, plan: Plan, spec: StackSpec) -> Endpoint:
    """Ask the server at client.server_url what it serves, from the client; EndpointError when
    it is unreachable, not OpenAI-compatible, does not serve the model, or is too short for the
    workload."""
    url = spec.client.server_url
    assert url is not None and spec.server is not None
    output: list[str] = []
    engine = engine_of(spec.server.engine)  # whose version endpoint to ask
    code = runtime.exec(plan, Role.client, ["python3", f"{SCRIPTS_MOUNT}/http_check.py",
                                            url.rstrip("/"), "--describe", "--version",
                                            engine.version_path], output.append)
    said = _last_json("".join(output))
    if code != 0 or said is None:
        raise EndpointError(f"client.server_url {url}: could not ask it what it serves (the"
                            f" check in the client exited {code})")
    if "error" in said:
        where = ("; is the server up, and is this address reachable from the client?"
                 if not said.get("reachable") else "")
        raise EndpointError(f"client.server_url {url}: {said['error']}{where}")
    return endpoint_of(url, said, spec)


def endpoint_of(url: str, said: dict[str, Any], spec: StackSpec) -> Endpoint:
    """The server's description (http_check.py --describe) held against the config: the model
    served, the workload within its max length (EndpointError naming the field otherwise)."""
    assert spec.server is not None
    name = spec.server.model_name
    models = {str(m.get("id")): m for m in said.get("models", []) if isinstance(m, dict)}
    if name not in models:
        listed = ", ".join(cut(m) for m in list(models)[:5]) or "nothing"
        field = "server.served_model_name" if spec.server.served_model_name else "server.model"
        raise EndpointError(f"{field} = {name} is not served at {url} (it serves"
                            f" {listed}); set {field} to the served name")
    length = models[name].get("max_model_len")
    max_len = length if isinstance(length, int) and not isinstance(length, bool) else None
    work = spec.workload
    need = work.input_len + work.output_len
    if max_len is not None and need > max_len:
        raise EndpointError(f"workload.input_len + workload.output_len = {need} exceeds the max"
                            f" length {max_len} of {name} at {url}; lower them to fit")
    version = said.get("version")
    return Endpoint(url, name, max_len, cut(version) if isinstance(version, str) else None,
                    said.get("metrics") is True)


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None
