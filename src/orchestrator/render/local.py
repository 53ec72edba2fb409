"""A plan as host processes: each component's argv and environment with the plan's container
paths (the scripts mount, scratch folders) mapped to host folders, and its GPUs as
CUDA_VISIBLE_DEVICES. What `orchestrator render --runtime local` prints is what the local
runtime starts, on top of the environment of the shell that runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.plan import Component, Plan
from orchestrator.render.docker import secret_placeholder
from orchestrator.resources import data_dir

Mounts = list[tuple[str, str]]


def host_mounts(plan: Plan, component: Component, state_dir: Path) -> Mounts:
    """(path in the plan, host path) for the component's volumes, longest first."""
    mounts = []
    for volume in component.volumes:
        if volume.source == "scripts":
            mounts.append((volume.mount_path, str(data_dir("container_scripts"))))
        elif volume.source == "scratch":
            mounts.append((volume.mount_path, str(state_dir / plan.project / component.role / volume.name)))
    return sorted(mounts, key=lambda m: -len(m[0]))


def to_host(text: str, mounts: Mounts) -> str:
    """`text` with a leading plan path replaced by its host path."""
    for inner, host in mounts:
        if text == inner or text.startswith(inner + "/"):
            return host + text[len(inner):]
    return text


def cuda_visible_devices(component: Component) -> str:
    """The GPUs the process may see: the ids asked for, else the first `count` ("" for none)."""
    gpus = component.gpus
    ids = gpus.ids if gpus.ids is not None else tuple(range(gpus.count))
    return ",".join(str(i) for i in ids)


def process_env(component: Component, mounts: Mounts) -> dict[str, str]:
    """The variables the process gets on top of the shell's environment (secrets excluded)."""
    env = {k: to_host(v, mounts) for k, v in component.env.items()}
    env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices(component)
    return env


def render_local(plan: Plan, state_dir: Path) -> dict[str, Any]:
    """Every process in start order: argv, environment, working folder and log file."""
    processes = []
    for component in plan.components:
        mounts = host_mounts(plan, component, state_dir)
        env = process_env(component, mounts)
        for name, ref in component.secret_env.items():
            env[name] = secret_placeholder(ref.from_env)
        processes.append({
            "name": component.name,
            "role": component.role,
            "argv": [to_host(arg, mounts) for arg in component.argv],
            "env": env,
            "cwd": str(state_dir / plan.project / component.role),
            "log": str(state_dir / plan.project / f"{component.role}.log"),
            **({"port": component.ports[0].container_port} if component.probe else {}),
        })
    return {"state_dir": str(state_dir / plan.project), "processes": processes}
