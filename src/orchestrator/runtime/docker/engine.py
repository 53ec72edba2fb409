"""The Docker runtime: the plan's containers on one bridge network, through the Docker SDK.

State lives in the engine: every container and network carries the plan's labels, and `ps`,
`logs` and `down` find them by label, as docker compose does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from orchestrator.errors import DeadlineError, EngineError, PreflightError, StartupError
from orchestrator.fit.gpus import GpuInventory, host_inventory
from orchestrator.names import LABEL_COMPONENT, LABEL_PROJECT, fields_of
from orchestrator.plan import Component, Plan, Scope
from orchestrator.readiness import Check
from orchestrator.runtime.archive import safe_extract
from orchestrator.runtime.base import (
    ComponentState,
    describe_record,
    parse_timestamp,
    secret_placeholder,
    to_main_log,
)
from orchestrator.runtime.docker.render import container_kwargs, network_kwargs
from orchestrator.runtime.host import (
    ended,
    only_one_replica,
    port_free,
    serving_checks,
    serving_record,
    serving_version,
)


class DockerRuntime:
    """Runs a plan as Docker containers."""

    kind = "docker"

    def __init__(self, scope: Scope) -> None:
        import docker

        self._docker = docker
        import requests

        # The SDK's wait with a timeout ends in the HTTP client's own read timeout.
        self._docker_timeouts = (requests.exceptions.ReadTimeout,
                                 requests.exceptions.ConnectionError)
        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except docker.errors.DockerException as exc:
            raise EngineError(
                f"cannot reach the Docker engine ({_reason(exc)}); start one with"
                " host_scripts/docker_engine.sh, or set DOCKER_HOST"
            ) from None

    # -- starting ----------------------------------------------------------------------------

    def preflight(self, plan: Plan) -> None:
        """Images present (or pullable), the project not already up, host ports free."""
        existing = self._containers(plan.project)
        if existing:
            names = ", ".join(sorted(c.name for c in existing))
            raise PreflightError(
                f"project {plan.project} already has containers ({names}); run"
                f" `orchestrator down -p {plan.project}` first, or choose another -p"
            )
        for component in plan.components:
            self._ensure_image(component)
            for port in component.ports:
                if port.host_port and not port_free(port.host_port):
                    field = fields_of(component.role).host_port
                    raise PreflightError(
                        f"host port {port.host_port} ({field}) is already in use on this"
                        f" host; set {field} to a free port or stop what uses it"
                    )

    def gpus(self, plan: Plan) -> GpuInventory:
        """This host's GPUs, from nvidia-smi."""
        return host_inventory()

    def up(self, plan: Plan, roles: Sequence[str] | None = None) -> None:
        """Create the network (once), then create and start each container in order."""
        errors = self._docker.errors
        label = f"{LABEL_PROJECT}={plan.project}"
        try:
            networks = self.client.networks.list(filters={"label": label})
            if not any(network.name == plan.network for network in networks):
                self.client.networks.create(**network_kwargs(plan))
            for component in plan.components:
                if roles is not None and component.role not in roles:
                    continue
                kwargs = container_kwargs(plan, component)
                kwargs["environment"] = _resolve_secrets(component, kwargs["environment"])
                self.client.containers.create(**kwargs).start()
        except errors.APIError as exc:
            reason = _reason(exc)
            if "nvidia" in reason:
                reason += ("; this host's Docker has no GPU runtime: install the NVIDIA Container"
                           " Toolkit, or run on CPU (gpus: 0)")
            raise StartupError(f"Docker refused to start the stack: {reason}") from None

    def alive(self, plan: Plan, role: str) -> str | None:
        """None while running; else the exit code and whether it was OOM-killed."""
        container = self._container(plan.project, role)
        if container is None:
            return f"the {role} container is gone"
        container.reload()
        if container.status == "running":
            return None
        state = container.attrs.get("State", {})
        return ended(role, state.get("ExitCode"), bool(state.get("OOMKilled")))

    def readiness(self, plan: Plan, role: str) -> list[Check]:
        """/health answers 200 and /v1/models lists the served model, through the host port."""
        return serving_checks(self._endpoint(plan, role), plan.component(role))

    def wait(self, plan: Plan, role: str, timeout_s: float) -> int:
        """Block until the container exits; return its exit code."""
        container = self._require(plan.project, role)
        try:
            return int(container.wait(timeout=timeout_s)["StatusCode"])
        except self._docker_timeouts as exc:
            raise DeadlineError(f"the {role} container {container.name} was still running after"
                                f" {timeout_s:g}s") from exc

    def _endpoint(self, plan: Plan, role: str) -> str:
        component = plan.component(role)
        port = next(p for p in component.ports if p.host_port)
        return f"http://127.0.0.1:{port.host_port}"

    # -- using -------------------------------------------------------------------------------

    def exec(self, plan: Plan, role: str, argv: list[str], on_output: Callable[[str], None],
             logged: bool = False) -> int:
        """`docker exec` argv in the component, streaming output; return the exit code."""
        container = self._require(plan.project, role)
        api = self.client.api
        exec_id = api.exec_create(container.id, to_main_log(argv) if logged else argv)["Id"]
        for chunk in api.exec_start(exec_id, stream=True):
            on_output(chunk.decode("utf-8", errors="replace"))
        return int(api.exec_inspect(exec_id)["ExitCode"])

    def copy_out(self, plan: Plan, role: str, path: str, dest: Path,
                 keep_tree: bool = False, replace: bool = False) -> list[Path]:
        """Copy files under `path` out of the container (tar, extracted safely)."""
        container = self._require(plan.project, role)
        try:
            stream, _ = container.get_archive(path)
        except self._docker.errors.NotFound:
            return []
        return safe_extract(stream, dest, skip_existing=not replace,
                            keep_tree=PurePosixPath(path).name if keep_tree else None,
                            limits=plan.copy_limits)

    def logs(self, project: str, role: str, follow: bool = False, tail: int | None = None,
             replica: int = 0) -> Iterator[str]:
        """The container's stdout and stderr (one host: every component has one replica)."""
        only_one_replica(role, replica)
        container = self._require(project, role)
        stream = container.logs(stream=True, follow=follow, tail="all" if tail is None else tail)
        for chunk in stream:
            yield chunk.decode("utf-8", errors="replace")

    # -- inspecting and stopping ---------------------------------------------------------------

    def status(self, project: str) -> list[ComponentState]:
        """Every container of the project."""
        rows = []
        now = time.time()
        for container in self._containers(project):
            attrs = container.attrs
            health = attrs.get("State", {}).get("Health", {}).get("Status", "-")
            # Docker lists a binding per address family; show each published port once.
            ports = ", ".join(dict.fromkeys(
                f"{b['HostPort']}->{inner}"
                for inner, bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).items()
                for b in bindings or []
            ))
            created = parse_timestamp(attrs.get("Created"))
            rows.append(
                ComponentState(
                    name=container.name,
                    component=container.labels.get(LABEL_COMPONENT, "?"),
                    image=attrs.get("Config", {}).get("Image", ""),
                    state=container.status,
                    health=health,
                    ports=ports,
                    age_s=now - created if created else None,
                    restarts=attrs.get("RestartCount"),
                    instance=container.id,
                )
            )
        return sorted(rows, key=lambda r: r.name)

    def down(self, project: str) -> list[str]:
        """Remove the project's containers (force) and networks; safe to run twice."""
        errors = self._docker.errors
        removed = []
        label = f"{LABEL_PROJECT}={project}"
        try:
            for container in self._containers(project):
                try:
                    container.remove(force=True, v=True)
                    removed.append(f"container {container.name}")
                except errors.NotFound:
                    pass
            for network in self.client.networks.list(filters={"label": label}):
                try:
                    network.remove()
                    removed.append(f"network {network.name}")
                except errors.NotFound:
                    pass
        except errors.APIError as exc:
            raise EngineError(f"could not remove project {project}: {_reason(exc)}") from None
        return removed

    def describe(self, plan: Plan) -> dict[str, Any]:
        """Engine version, each component's image and image id, the model server's engine and
        version."""
        version = self.client.version()
        components = {}
        for component in plan.components:
            container = self._container(plan.project, component.role)
            components[component.role.value] = {
                "image": component.image,
                "id": container.image.id if container else None,
            }
        serving = plan.serving()
        return describe_record(
            "docker", version.get("Version"), components,
            serving_record(serving, serving_version(self._endpoint(plan, serving.role), serving)
                           if serving else None),
            api_version=version.get("ApiVersion"), os=f"{version.get('Os')}/{version.get('Arch')}",
        )

    # -- helpers -------------------------------------------------------------------------------

    def projects(self) -> list[str]:
        """The projects whose containers are here, running or not."""
        return sorted({c.labels[LABEL_PROJECT] for c in self.client.containers.list(
            all=True, filters={"label": LABEL_PROJECT})})

    def _containers(self, project: str) -> list[Any]:
        return list(self.client.containers.list(
            all=True, filters={"label": f"{LABEL_PROJECT}={project}"}
        ))

    def _container(self, project: str, role: str) -> Any | None:
        for container in self._containers(project):
            if container.labels.get(LABEL_COMPONENT) == role:
                return container
        return None

    def _require(self, project: str, role: str) -> Any:
        container = self._container(project, role)
        if container is None:
            raise EngineError(
                f"project {project} has no {role} container; is it up? (`orchestrator ps -p {project}`)"
            )
        return container

    def _ensure_image(self, component: Component) -> None:
        errors = self._docker.errors
        try:
            self.client.images.get(component.image)
            return
        except errors.ImageNotFound:
            pass
        try:
            self.client.images.pull(component.image)
        except errors.DockerException as exc:
            raise PreflightError(
                f"image {component.image!r} ({fields_of(component.role).image})"
                f" is not on this host and pulling it failed ({_reason(exc)}); build it"
                " (host_scripts/build_images.sh) or set the image to one that exists"
            ) from None


def _resolve_secrets(component: Component, environment: dict[str, str]) -> dict[str, str]:
    """Fill secret placeholders from this process's environment; drop unset ones."""
    resolved = dict(environment)
    for name, ref in component.secret_env.items():
        if resolved.get(name) == secret_placeholder(ref.from_env):
            value = os.environ.get(ref.from_env)
            if value:
                resolved[name] = value
            else:
                del resolved[name]
    return resolved


def _reason(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = explanation if isinstance(explanation, str) and explanation else str(exc)
    return " ".join(text.split())[:300]
