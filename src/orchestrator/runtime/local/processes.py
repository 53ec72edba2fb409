"""A plan as host processes, described once: each component's argv and environment with the
plan's container paths (the scripts mount, scratch folders) mapped to host folders, its GPUs as
CUDA_VISIBLE_DEVICES, its working folder, log and exit-code file. `render --runtime local`
prints these descriptions and the local runtime starts exactly them, on top of the environment
of the shell that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.plan import Component, Plan, VolumeSource
from orchestrator.resources import data_dir
from orchestrator.runtime.base import secret_placeholder

Mounts = list[tuple[str, str]]


@dataclass(frozen=True)
class Process:
    """One component as a host process."""

    role: str
    name: str
    argv: list[str]  # the component's command, paths mapped to this host
    launcher: list[str]  # runs argv and records its exit code in exit_file
    env: dict[str, str]  # on top of the shell's environment; secrets not included
    secrets: dict[str, str]  # variable -> the variable of this shell that holds its value
    cwd: Path
    log: Path
    exit_file: Path
    scratch: list[Path]
    port: int | None  # where it serves, when it has a health probe
    mounts: Mounts

    def to_host(self, text: str) -> str:
        """`text` with a leading plan path replaced by its host path."""
        return to_host(text, self.mounts)

    def rendered(self) -> dict[str, Any]:
        """What `render --runtime local` prints for it (secrets as placeholders)."""
        env = {**self.env, **{name: secret_placeholder(ref) for name, ref in self.secrets.items()}}
        return {"name": self.name, "role": self.role, "argv": self.argv,
                "launcher": self.launcher, "env": env, "cwd": str(self.cwd),
                "log": str(self.log), **({"port": self.port} if self.port else {})}


def project_folder(plan: Plan, state_dir: Path) -> Path:
    """Where a project's state file, logs and scratch folders live."""
    return state_dir / plan.project


def describe_processes(plan: Plan, state_dir: Path) -> list[Process]:
    """Every component of the plan as a host process, in start order."""
    return [describe_process(plan, component, state_dir) for component in plan.components]


def describe_process(plan: Plan, component: Component, state_dir: Path) -> Process:
    """One component as a host process."""
    folder = project_folder(plan, state_dir)
    cwd = folder / component.role
    mounts = _host_mounts(component, cwd)
    exit_file = folder / f"{component.role}.exit-code"
    env = {k: to_host(v, mounts) for k, v in component.env.items()}
    env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices(component)
    # In a container the model cache is mounted where Hugging Face looks by default
    # (/root/.cache/huggingface); a host process is pointed at its host folder instead.
    cache = next((v.host_path for v in component.volumes
                  if v.source == VolumeSource.model_cache and v.host_path), None)
    if cache and "HF_HOME" not in env:
        env["HF_HOME"] = cache
    return Process(
        role=component.role.value,
        name=component.name,
        argv=[to_host(arg, mounts) for arg in component.argv],
        launcher=["sh", str(data_dir("container_scripts") / "record_exit.sh"), str(exit_file)],
        env=env,
        secrets={name: ref.from_env for name, ref in component.secret_env.items()},
        cwd=cwd,
        log=folder / f"{component.role}.log",
        exit_file=exit_file,
        scratch=[cwd / v.name for v in component.volumes if v.source == VolumeSource.scratch],
        port=component.ports[0].container_port if component.probe else None,
        mounts=mounts,
    )


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


def _host_mounts(component: Component, cwd: Path) -> Mounts:
    """(path in the plan, host path) for the component's volumes, longest first."""
    mounts = []
    for volume in component.volumes:
        if volume.source == VolumeSource.scripts:
            mounts.append((volume.mount_path, str(data_dir("container_scripts"))))
        elif volume.source == VolumeSource.scratch:
            mounts.append((volume.mount_path, str(cwd / volume.name)))
        elif volume.source in (VolumeSource.model_cache, VolumeSource.compile_cache,
                               VolumeSource.dataset, VolumeSource.resume) and volume.host_path:
            mounts.append((volume.mount_path, volume.host_path))
    return sorted(mounts, key=lambda m: -len(m[0]))
