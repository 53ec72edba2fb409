"""A plan as the Docker SDK's keyword arguments: `networks.create` and `containers.create`.

What `orchestrator render --runtime docker` prints is exactly what the Docker runtime passes,
except that secrets appear as `${NAME}` placeholders; the runtime fills them from the host's
environment when it creates the container.
"""

from __future__ import annotations

from typing import Any

from orchestrator.plan import Component, Plan, VolumeSource
from orchestrator.resources import data_dir
from orchestrator.runtime.base import secret_placeholder
from orchestrator.runtimes import traits

_NANOSECONDS = 1_000_000_000
HOST_ALIAS = traits("docker").host_alias


def network_kwargs(plan: Plan) -> dict[str, Any]:
    """Arguments for `client.networks.create`."""
    return {"name": plan.network, "driver": "bridge", "labels": dict(plan.labels)}


def container_kwargs(plan: Plan, component: Component) -> dict[str, Any]:
    """Arguments for `client.containers.create` for one component."""
    environment = dict(component.env)
    for name, ref in component.secret_env.items():
        environment[name] = secret_placeholder(ref.from_env)
    kwargs: dict[str, Any] = {
        "name": component.name,
        "image": component.image,
        # The full argv is the entrypoint, so the image's own entrypoint cannot prepend to it.
        "entrypoint": list(component.argv),
        "command": [],
        "environment": environment,
        "labels": dict(component.labels),
        "network": plan.network,
        "hostname": component.role.value,
        "detach": True,
    }
    if component.reaches_host:
        kwargs["extra_hosts"] = {HOST_ALIAS: "host-gateway"}
    if component.gpus.count:
        kwargs["device_requests"] = [_device_request(component)]
    if component.shm_size_bytes:
        kwargs["shm_size"] = component.shm_size_bytes
    if component.memory_bytes:
        kwargs["mem_limit"] = component.memory_bytes
    published = {f"{p.container_port}/tcp": p.host_port for p in component.ports if p.host_port}
    if published:
        kwargs["ports"] = published
    binds = bind_mounts(component)
    if binds:
        kwargs["volumes"] = {
            source: {"bind": target, "mode": "ro" if read_only else "rw"}
            for source, target, read_only in binds
        }
    if component.probe:
        probe = component.probe
        kwargs["healthcheck"] = {
            "test": ["CMD", *http_check_argv(probe.port, probe.path)],
            "interval": probe.period_s * _NANOSECONDS,
            "timeout": probe.timeout_s * _NANOSECONDS,
            "retries": 3,
            "start_period": probe.startup_budget_s * _NANOSECONDS,
        }
    return kwargs


def render_docker(plan: Plan) -> dict[str, Any]:
    """The whole Docker rendering: the network and each container, in start order."""
    return {
        "network": network_kwargs(plan),
        "containers": [container_kwargs(plan, c) for c in plan.components],
    }


def render_files(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """`render --runtime docker`: one file with the SDK's arguments."""
    return {"docker.yaml": [render_docker(plan)]}


def http_check_argv(port: int, path: str) -> list[str]:
    """A health check that needs only Python (vLLM images have no curl)."""
    url = f"http://127.0.0.1:{port}{path}"
    return ["python3", "-c", f"import urllib.request; urllib.request.urlopen({url!r}, timeout=5)"]


def _device_request(component: Component) -> dict[str, Any]:
    request: dict[str, Any] = {"Driver": "nvidia", "Capabilities": [["gpu"]]}
    if component.gpus.ids is not None:
        request["DeviceIDs"] = [str(i) for i in component.gpus.ids]
    else:
        request["Count"] = component.gpus.count
    return request


def bind_mounts(component: Component) -> list[tuple[str, str, bool]]:
    """(host source, container target, read-only) for each volume Docker mounts from the host.

    Scratch space lives in the container's own filesystem, and so does a model cache with no
    host folder.
    """
    binds = []
    for volume in component.volumes:
        if volume.source in (VolumeSource.model_cache, VolumeSource.compile_cache) and volume.host_path:
            binds.append((volume.host_path, volume.mount_path, volume.read_only))
        elif volume.source == VolumeSource.scripts:
            binds.append((str(data_dir("container_scripts")), volume.mount_path, volume.read_only))
        elif volume.source in (VolumeSource.dataset, VolumeSource.resume) and volume.host_path:
            binds.append((volume.host_path, volume.mount_path, True))
    return binds
