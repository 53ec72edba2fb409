"""A plan as a docker-compose.yaml, for people who run stacks with `docker compose`.

Compose interpolates `$` in every string, so user values are escaped (`$$`); secrets are passed
through from the shell that runs compose, never written into the file.
"""

from __future__ import annotations

from typing import Any

from orchestrator.plan import Component, Plan
from orchestrator.runtime.docker.render import HOST_ALIAS, bind_mounts, http_check_argv


def render_compose(plan: Plan) -> dict[str, Any]:
    """The compose document for the plan; `docker compose -f FILE config` accepts it.

    There is no top-level `name` (compose v1 refuses it): containers and the network are named
    explicitly, so any project name compose derives does not change what is created.
    """
    services = {c.role.value: _service(plan, c) for c in plan.components}
    # What has a health check (a server) must be healthy before the rest (client, trainer) starts.
    healthy = [c.role.value for c in plan.components if c.probe]
    for component in plan.components:
        if not component.probe and healthy:
            services[component.role.value]["depends_on"] = {
                role: {"condition": "service_healthy"} for role in healthy}
    network = {"name": plan.network, "driver": "bridge", "labels": dict(plan.labels)}
    return {"services": services, "networks": {"default": network}}


def render_files(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """`render --runtime docker --format compose`: one docker-compose.yaml."""
    return {"docker-compose.yaml": [render_compose(plan)]}


def _escape(text: str) -> str:
    return text.replace("$", "$$")


def _service(plan: Plan, component: Component) -> dict[str, Any]:
    environment: dict[str, str | None] = {k: _escape(v) for k, v in component.env.items()}
    for name, ref in component.secret_env.items():
        # A key with no value passes the variable through from the shell running compose.
        environment[name] = None if ref.from_env == name else "${" + ref.from_env + "}"
    service: dict[str, Any] = {
        "image": component.image,
        "container_name": component.name,
        "hostname": component.role.value,
        "entrypoint": [_escape(arg) for arg in component.argv],
        "environment": environment,
        "labels": dict(component.labels),
    }
    if component.shm_size_bytes:
        service["shm_size"] = component.shm_size_bytes
    if component.memory_bytes:
        service["mem_limit"] = component.memory_bytes
    ports = [f"{p.host_port}:{p.container_port}" for p in component.ports if p.host_port]
    if ports:
        service["ports"] = ports
    binds = bind_mounts(component)
    if binds:
        service["volumes"] = [
            f"{_escape(source)}:{_escape(target)}" + (":ro" if read_only else "")
            for source, target, read_only in binds
        ]
    if component.reaches_host:
        service["extra_hosts"] = [f"{HOST_ALIAS}:host-gateway"]
    if component.gpus.count:
        device: dict[str, Any] = {"driver": "nvidia", "capabilities": ["gpu"]}
        if component.gpus.ids is not None:
            device["device_ids"] = [str(i) for i in component.gpus.ids]
        else:
            device["count"] = component.gpus.count
        service["deploy"] = {"resources": {"reservations": {"devices": [device]}}}
    if component.probe:
        probe = component.probe
        service["healthcheck"] = {
            "test": ["CMD", *http_check_argv(probe.port, probe.path)],
            "interval": f"{probe.period_s}s",
            "timeout": f"{probe.timeout_s}s",
            "retries": 3,
            "start_period": f"{probe.startup_budget_s}s",
        }
    return service
