"""The local runtime: the plan's components as host processes, for hosts without Docker.

Each component runs in its own process group (its own session), with CUDA_VISIBLE_DEVICES from
its GPU request, its output in a log file, and its pid in a small state file, so that `ps`,
`logs` and `down` work from another shell. Paths the plan gives inside a container (the scripts
mount, scratch folders) are mapped to host folders (render/local.py): container_scripts/ and
folders under the project's state directory.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import EngineError, PreflightError, StartupError
from orchestrator.files import write_atomic
from orchestrator.plan import Component, Plan
from orchestrator.readiness import Check, HttpOk, ModelListed
from orchestrator.render.local import (
    Mounts,
    cuda_visible_devices,
    host_mounts,
    process_env,
    to_host,
)
from orchestrator.runtime.base import ComponentState
from orchestrator.runtime.host import port_free, server_version

STOP_GRACE_S = 10.0  # between SIGTERM and SIGKILL, as `docker stop` does
_PORT_FIELD = {"server": "server.port", "rollout": "trainer.rollout.port"}
_STATE = "state.json"


def state_root() -> Path:
    """Where the local runtime keeps each project's state file, logs and scratch folders."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "orchestrator" / "local"


class LocalRuntime:
    """Runs a plan as process groups on this host."""

    kind = "local"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or state_root()
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- starting ----------------------------------------------------------------------------

    def preflight(self, plan: Plan) -> None:
        """Nothing of the project running, every program on PATH, every port free."""
        running = [name for name, entry in self._entries(plan.project) if _alive(entry)]
        if running:
            raise PreflightError(
                f"project {plan.project} already has processes running ({', '.join(running)});"
                f" run `orchestrator down -p {plan.project} --runtime local` first, or choose another -p"
            )
        for component in plan.components:
            program = component.argv[0]
            if shutil.which(program) is None:
                raise PreflightError(
                    f"{program!r} (the {component.role}'s command) is not on PATH; install it"
                    " on this host (e.g. pip install vllm) or use runtime.kind: docker"
                )
            for port in component.ports[:1] if component.probe else []:
                if not port_free(port.container_port):
                    field = _PORT_FIELD.get(component.role, f"{component.role} port")
                    raise PreflightError(
                        f"port {port.container_port} ({field}) is already in use on this host;"
                        f" set {field} to a free port or stop what uses it"
                    )

    def up(self, plan: Plan, roles: Sequence[str] | None = None) -> None:
        """Start each component (only `roles`, when given) as its own process group."""
        folder = self.root / plan.project
        folder.mkdir(parents=True, exist_ok=True)
        for component in plan.components:
            if roles is not None and component.role not in roles:
                continue
            work = folder / component.role
            work.mkdir(exist_ok=True)
            for volume in component.volumes:
                if volume.source == "scratch":
                    (work / volume.name).mkdir(exist_ok=True)
            log_path = folder / f"{component.role}.log"
            env = self._env(plan, component)
            try:
                with log_path.open("ab") as log:
                    process = subprocess.Popen(
                        self._argv(plan, component, component.argv), env=env,
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=work,
                        start_new_session=True,  # its own process group: down kills it whole
                    )
            except OSError as exc:
                raise StartupError(f"could not start the {component.role} ({component.argv[0]}):"
                                   f" {exc.strerror or exc}") from None
            self._children[process.pid] = process
            self._record(plan.project, component.role, {
                "name": component.name, "pid": process.pid, "started": time.time(),
                "start_ticks": _start_ticks(process.pid), "argv": component.argv,
                "log": str(log_path),
                "port": component.ports[0].container_port if component.ports else None,
                "cuda_visible_devices": env["CUDA_VISIBLE_DEVICES"],
            })

    def alive(self, plan: Plan, role: str) -> str | None:
        """None while the process runs; else how it ended."""
        entry = self._entry(plan.project, role)
        if entry is None:
            return f"the {role} process is gone"
        child = self._children.get(entry["pid"])
        if child is not None:
            code = child.poll()
            return None if code is None else f"exited with code {code}"
        return None if _alive(entry) else "exited"

    def readiness(self, plan: Plan, role: str) -> list[Check]:
        """/health answers 200 and /v1/models lists the served model, on this host."""
        component = plan.component(role)
        base = f"http://127.0.0.1:{component.ports[0].container_port}"
        served = component.served_model
        return [HttpOk(f"{base}/health"), *([ModelListed(base, served)] if served else [])]

    def wait(self, plan: Plan, role: str) -> int:
        """Block until the process ends; its exit code (-1 when another shell started it)."""
        entry = self._require(plan.project, role)
        child = self._children.get(entry["pid"])
        if child is not None:
            return child.wait()
        while _alive(entry):
            time.sleep(0.5)
        return -1

    # -- using -------------------------------------------------------------------------------

    def exec(self, plan: Plan, role: str, argv: list[str], on_output: Callable[[str], None]) -> int:
        """Run argv on the host with the component's environment, streaming its output."""
        component = plan.component(role)
        self._require(plan.project, role)
        process = subprocess.Popen(
            self._argv(plan, component, argv), env=self._env(plan, component),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=self.root / plan.project / role, start_new_session=True,
        )
        key = f"exec-{process.pid}"
        self._record(plan.project, key, {"name": key, "pid": process.pid, "started": time.time(),
                                         "start_ticks": _start_ticks(process.pid), "exec": True})
        try:
            assert process.stdout is not None
            for line in iter(process.stdout.readline, b""):
                on_output(line.decode("utf-8", errors="replace"))
            return process.wait()
        finally:
            if process.poll() is None:  # Ctrl-C: the command's whole group goes with it
                _stop_groups([process.pid])
                process.wait()
            self._forget(plan.project, key)

    def copy_out(self, plan: Plan, role: str, path: str, dest: Path,
                 keep_tree: bool = False) -> list[Path]:
        """Copy files under `path` (a path of the plan, mapped to the host) into `dest`."""
        source = Path(self._translate(plan, plan.component(role), path))
        if not source.is_dir():
            return []
        written = []
        for file in sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink()):
            target = dest / (file.relative_to(source) if keep_tree else file.name)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(file, tmp)
            os.replace(tmp, target)
            written.append(target)
        return written

    def logs(self, project: str, role: str, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        """The process's log file; `follow` streams until the process ends."""
        entry = self._require(project, role)
        path = Path(entry["log"])
        with path.open("rb") as handle:
            data = handle.read()
            if tail is not None:
                data = b"".join(data.splitlines(keepends=True)[-tail:]) if tail else b""
            if data:
                yield data.decode("utf-8", errors="replace")
            while follow:
                chunk = handle.read()
                if chunk:
                    yield chunk.decode("utf-8", errors="replace")
                    continue
                if not self._running(entry):
                    rest = handle.read()
                    if rest:
                        yield rest.decode("utf-8", errors="replace")
                    return
                time.sleep(0.2)

    # -- inspecting and stopping ---------------------------------------------------------------

    def status(self, project: str) -> list[ComponentState]:
        """Every process of the project."""
        now = time.time()
        rows = []
        for role, entry in self._entries(project):
            if entry.get("exec"):
                continue
            running = self._running(entry)
            port = entry.get("port")
            rows.append(ComponentState(
                name=entry["name"], component=role, image=Path(entry["argv"][0]).name,
                state=f"running (pid {entry['pid']})" if running else "exited",
                health=("healthy" if _answers(port) else "starting") if running and port else "-",
                ports=str(port or ""), age_s=now - entry["started"],
            ))
        return sorted(rows, key=lambda r: r.name)

    def down(self, project: str) -> list[str]:
        """Stop every process group of the project (TERM, then KILL after a grace period)."""
        entries = self._entries(project)
        live = [entry for _, entry in entries if _alive(entry)]
        _stop_groups([entry["pid"] for entry in live])
        for entry in live:
            child = self._children.pop(entry["pid"], None)
            if child is not None:
                child.wait()
        folder = self.root / project
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        return [f"process {entry['name']} (pid {entry['pid']})" for entry in live]

    def describe(self, plan: Plan) -> dict[str, Any]:
        """The host, each component's command and GPUs, the GPUs' names and the server's vLLM."""
        info: dict[str, Any] = {
            "runtime": "local",
            "host": platform.node(),
            "processes": {
                c.role: {"command": c.argv[0], "cuda_visible_devices": cuda_visible_devices(c)}
                for c in plan.components
            },
            "gpus": _gpu_names(),
        }
        for role in ("server", "rollout"):
            if plan.has(role):
                info["vllm"] = server_version(f"http://127.0.0.1:{plan.component(role).ports[0].container_port}")
        return info

    # -- helpers -------------------------------------------------------------------------------

    def _mounts(self, plan: Plan, component: Component) -> Mounts:
        return host_mounts(plan, component, self.root)

    def _translate(self, plan: Plan, component: Component, text: str) -> str:
        return to_host(text, self._mounts(plan, component))

    def _argv(self, plan: Plan, component: Component, argv: list[str]) -> list[str]:
        mounts = self._mounts(plan, component)
        return [to_host(arg, mounts) for arg in argv]

    def _env(self, plan: Plan, component: Component) -> dict[str, str]:
        env = {**os.environ, **process_env(component, self._mounts(plan, component))}
        for name, ref in component.secret_env.items():
            value = os.environ.get(ref.from_env)
            if value:
                env[name] = value
        return env

    def _state_file(self, project: str) -> Path:
        return self.root / project / _STATE

    def _load(self, project: str) -> dict[str, Any]:
        path = self._state_file(project)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            raise EngineError(f"the local state file {path} is unreadable; remove it by hand"
                              " once you have stopped its processes") from None

    def _record(self, project: str, key: str, entry: dict[str, Any]) -> None:
        state = self._load(project)
        state[key] = entry
        write_atomic(self._state_file(project), json.dumps(state, indent=2))

    def _forget(self, project: str, key: str) -> None:
        state = self._load(project)
        if state.pop(key, None) is not None:
            write_atomic(self._state_file(project), json.dumps(state, indent=2))

    def _entries(self, project: str) -> list[tuple[str, dict[str, Any]]]:
        return list(self._load(project).items())

    def _entry(self, project: str, role: str) -> dict[str, Any] | None:
        return self._load(project).get(role)

    def _require(self, project: str, role: str) -> dict[str, Any]:
        entry = self._entry(project, role)
        if entry is None:
            raise EngineError(f"project {project} has no {role} process; is it up?"
                              f" (`orchestrator ps -p {project} --runtime local`)")
        return entry

    def _running(self, entry: dict[str, Any]) -> bool:
        child = self._children.get(entry["pid"])
        if child is not None:
            return child.poll() is None
        return _alive(entry)


def _stat(pid: int | str) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks, which tells a reused pid apart."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _alive(entry: dict[str, Any]) -> bool:
    """Whether the recorded process still runs (not a zombie, not a new process with its pid)."""
    fields = _stat(entry["pid"])
    if fields is None or fields[0] in ("Z", "X"):
        return False
    recorded = entry.get("start_ticks")
    return recorded is None or int(fields[19]) == recorded


def _stop_groups(pgids: list[int]) -> None:
    """SIGTERM each process group, then SIGKILL what is left after the grace period."""
    for pgid in pgids:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(_group_alive(g) for g in pgids):
        time.sleep(0.2)
    for pgid in pgids:
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise EngineError(f"not allowed to stop process group {pgid}: {exc.strerror}") from None


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _stat(proc.name)
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _answers(port: int) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _gpu_names() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    result = subprocess.run(["nvidia-smi", "--query-gpu=index,name,driver_version,memory.total",
                             "--format=csv,noheader"], capture_output=True, text=True)
    return result.stdout.strip().splitlines() if result.returncode == 0 else []
