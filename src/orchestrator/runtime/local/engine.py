"""The local runtime: the plan's components as host processes, for hosts without Docker.

Each component runs in its own process group (its own session), as processes.py describes it:
CUDA_VISIBLE_DEVICES from its GPU request, its output in a log file, its exit code recorded in
a file, and its pid in the state file, so that `ps`, `logs`, `wait` and `down` work from
another shell.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import DeadlineError, EngineError, PreflightError, StartupError
from orchestrator.fit.gpus import GpuInventory, host_gpus, host_inventory
from orchestrator.names import fields_of
from orchestrator.plan import Plan, Scope
from orchestrator.readiness import Check
from orchestrator.runtime.base import ComponentState, describe_record
from orchestrator.runtime.host import (
    only_one_replica,
    port_free,
    serving_checks,
    serving_record,
    serving_version,
)
from orchestrator.runtime.local.proc import alive, start_ticks, stop_groups
from orchestrator.runtime.local.processes import Process, describe_process
from orchestrator.runtime.local.state import StateFile, state_root

POLL_S = 0.2


class LocalRuntime:
    """Runs a plan as process groups on this host."""

    kind = "local"

    def __init__(self, scope: Scope, root: Path | None = None) -> None:
        self.root = root or state_root()
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- starting ----------------------------------------------------------------------------

    def preflight(self, plan: Plan) -> None:
        """Nothing of the project running, every program on PATH, every port free."""
        running = [name for name, entry in self._state(plan.project).load().items() if alive(entry)]
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
                    field = fields_of(component.role).port
                    raise PreflightError(
                        f"port {port.container_port} ({field}) is already in use on this host;"
                        f" set {field} to a free port or stop what uses it"
                    )

    def gpus(self, plan: Plan) -> GpuInventory:
        """This host's GPUs, from nvidia-smi."""
        return host_inventory()

    def up(self, plan: Plan, roles: Sequence[str] | None = None) -> None:
        """Start each component (only `roles`, when given) as its own process group."""
        for component in plan.components:
            if roles is not None and component.role not in roles:
                continue
            process = self._process(plan, component.role)
            for folder in (process.cwd, *process.scratch):
                folder.mkdir(parents=True, exist_ok=True)
            process.exit_file.unlink(missing_ok=True)
            try:
                with process.log.open("ab") as log:
                    child = subprocess.Popen(
                        [*process.launcher, *process.argv], env=self._env(process),
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        cwd=process.cwd, start_new_session=True,  # down kills its whole group
                    )
            except OSError as exc:
                raise StartupError(f"could not start the {component.role} ({component.argv[0]}):"
                                   f" {exc.strerror or exc}") from None
            self._children[child.pid] = child
            self._state(plan.project).record(component.role, {
                "name": component.name, "pid": child.pid, "started": time.time(),
                "start_ticks": start_ticks(child.pid), "argv": component.argv,
                "log": str(process.log), "exit_file": str(process.exit_file),
                "port": component.ports[0].container_port if component.ports else None,
                "cuda_visible_devices": process.env["CUDA_VISIBLE_DEVICES"],
            })

    def alive(self, plan: Plan, role: str) -> str | None:
        """None while the process runs; else how it ended."""
        entry = self._state(plan.project).load().get(role)
        if entry is None:
            return f"the {role} process is gone"
        if self._running(entry):
            return None
        code = _recorded_exit(entry)
        child = self._children.get(entry["pid"])
        if code is None and child is not None:
            code = child.returncode
        return "exited" if code is None else f"exited with code {code}"

    def readiness(self, plan: Plan, role: str) -> list[Check]:
        """/health answers 200 and /v1/models lists the served model, on this host."""
        component = plan.component(role)
        return serving_checks(f"http://127.0.0.1:{component.ports[0].container_port}", component)

    def wait(self, plan: Plan, role: str, timeout_s: float) -> int:
        """Block until the process ends; its exit code (from the file its launcher writes, so
        that another shell's process is waited for the same way)."""
        entry = self._require(plan.project, role)
        deadline = time.monotonic() + timeout_s
        while self._running(entry):
            if time.monotonic() >= deadline:
                raise DeadlineError(f"the {role} process {entry['name']} was still running after"
                                    f" {timeout_s:g}s")
            time.sleep(POLL_S)
        code = _recorded_exit(entry)
        if code is None:
            raise EngineError(f"the {role} process {entry['name']} ended without recording its"
                              " exit code (was it killed with SIGKILL?)")
        return code

    # -- using -------------------------------------------------------------------------------

    def exec(self, plan: Plan, role: str, argv: list[str], on_output: Callable[[str], None],
             logged: bool = False) -> int:
        """Run argv on the host with the component's environment, streaming its output
        (`logged`: also appended to the component's log file)."""
        entry = self._require(plan.project, role)
        process = self._process(plan, role)
        child = subprocess.Popen(
            [process.to_host(arg) for arg in argv], env=self._env(process),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=process.cwd, start_new_session=True,
        )
        key = f"exec-{child.pid}"
        state = self._state(plan.project)
        state.record(key, {"name": key, "pid": child.pid, "started": time.time(),
                           "start_ticks": start_ticks(child.pid), "exec": True})
        try:
            assert child.stdout is not None
            with contextlib.ExitStack() as stack:
                log = stack.enter_context(Path(entry["log"]).open("ab")) if logged else None
                for line in iter(child.stdout.readline, b""):
                    on_output(line.decode("utf-8", errors="replace"))
                    if log is not None:
                        log.write(line)
                        log.flush()
            return child.wait()
        finally:
            if child.poll() is None:  # Ctrl-C: the command's whole group goes with it
                stop_groups([child.pid])
                child.wait()
            state.forget(key)

    def copy_out(self, plan: Plan, role: str, path: str, dest: Path,
                 keep_tree: bool = False, replace: bool = False) -> list[Path]:
        """Copy files under `path` (a path of the plan, mapped to the host) into `dest`."""
        source = Path(self._process(plan, role).to_host(path))
        if not source.is_dir():
            return []
        written = []
        for file in sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink()):
            target = dest / (file.relative_to(source) if keep_tree else file.name)
            if target.exists() and not replace:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(file, tmp)
            os.replace(tmp, target)
            written.append(target)
        return written

    def logs(self, project: str, role: str, follow: bool = False, tail: int | None = None,
             replica: int = 0) -> Iterator[str]:
        """The process's log file; `follow` streams until the process ends (one host: every
        component has one replica)."""
        only_one_replica(role, replica)
        entry = self._require(project, role)
        with Path(entry["log"]).open("rb") as handle:
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
                time.sleep(POLL_S)

    # -- inspecting and stopping ---------------------------------------------------------------

    def projects(self) -> list[str]:
        """The projects with a process of theirs still running."""
        folders = sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() \
            else []
        return [folder.name for folder in folders
                if any(self._running(entry) for entry in StateFile(folder).load().values()
                       if not entry.get("exec"))]

    def status(self, project: str) -> list[ComponentState]:
        """Every process of the project."""
        now = time.time()
        rows = []
        for role, entry in self._state(project).load().items():
            if entry.get("exec"):
                continue
            running = self._running(entry)
            port = entry.get("port")
            code = None if running else _recorded_exit(entry)
            rows.append(ComponentState(
                name=entry["name"], component=role, image=Path(entry["argv"][0]).name,
                state=f"running (pid {entry['pid']})" if running else (
                    "exited" if code is None else f"exited ({code})"),
                health=("healthy" if _answers(port) else "starting") if running and port else "-",
                ports=str(port or ""), age_s=now - entry["started"],
                instance=str(entry["pid"]),
            ))
        return sorted(rows, key=lambda r: r.name)

    def down(self, project: str) -> list[str]:
        """Stop every process group of the project (TERM, then KILL after a grace period)."""
        live = [entry for entry in self._state(project).load().values() if alive(entry)]
        stop_groups([entry["pid"] for entry in live])
        for entry in live:
            child = self._children.pop(entry["pid"], None)
            if child is not None:
                child.wait()
        folder = self.root / project
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        return [f"process {entry['name']} (pid {entry['pid']})" for entry in live]

    def describe(self, plan: Plan) -> dict[str, Any]:
        """The host, each component's command and GPUs, the GPUs' names and the serving
        component's vLLM."""
        components = {
            c.role.value: {"image": c.argv[0], "id": None,
                           "cuda_visible_devices": self._process(plan, c.role).env["CUDA_VISIBLE_DEVICES"]}
            for c in plan.components
        }
        serving = plan.serving()
        version = (serving_version(f"http://127.0.0.1:{serving.ports[0].container_port}", serving)
                   if serving else None)
        return describe_record("local", platform.release(), components,
                               serving_record(serving, version),
                               host=platform.node(), gpus=[g.line() for g in host_gpus()])

    # -- helpers -------------------------------------------------------------------------------

    def _process(self, plan: Plan, role: str) -> Process:
        return describe_process(plan, plan.component(role), self.root)

    def _state(self, project: str) -> StateFile:
        return StateFile(self.root / project)

    def _env(self, process: Process) -> dict[str, str]:
        env = {**os.environ, **process.env}
        for name, source in process.secrets.items():
            value = os.environ.get(source)
            if value:
                env[name] = value
        return env

    def _require(self, project: str, role: str) -> dict[str, Any]:
        entry = self._state(project).load().get(role)
        if entry is None:
            raise EngineError(f"project {project} has no {role} process; is it up?"
                              f" (`orchestrator ps -p {project} --runtime local`)")
        return dict(entry)

    def _running(self, entry: dict[str, Any]) -> bool:
        child = self._children.get(entry["pid"])
        if child is not None:
            return child.poll() is None
        return alive(entry)


def _recorded_exit(entry: dict[str, Any]) -> int | None:
    """The exit code the process's launcher wrote, if it did."""
    try:
        return int(Path(entry["exit_file"]).read_text().strip())
    except (KeyError, OSError, ValueError):
        return None


def _answers(port: int) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False
