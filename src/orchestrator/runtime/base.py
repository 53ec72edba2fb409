"""The one interface every runtime implements; stacks drive runtimes only through it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from orchestrator.fit.gpus import GpuInventory
from orchestrator.plan import SCRIPTS_MOUNT, Plan, Scope
from orchestrator.readiness import Check

# The keys every runtime's `describe` returns (environment.json); what only one runtime knows
# goes under "details".
DESCRIBE_KEYS = ("runtime", "engine", "components", "serving", "details")


TERMINATING = "Terminating"  # ComponentState.state of one being removed (a pod being deleted)


@dataclass(frozen=True)
class ComponentState:
    """One row of `orchestrator ps`."""

    name: str
    component: str
    image: str
    state: str
    health: str
    ports: str
    age_s: float | None
    restarts: int | None = None
    node: str = ""
    # This incarnation of it (a pod's uid, a container's id, a process's pid): a pod that
    # LeaderWorkerSet recreates keeps its name.
    instance: str = ""


class Runtime(Protocol):
    """Where a plan runs: up · wait (readiness, alive, exit) · exec · copy_out · logs · status ·
    down. Engines are made by the registry with the plan's Scope."""

    kind: str

    def __init__(self, scope: Scope) -> None:
        """Connect to the engine (refuses with EngineError when it cannot be reached)."""

    def preflight(self, plan: Plan) -> None:
        """Refuse to start when something needed is missing or taken; starts nothing."""

    def gpus(self, plan: Plan) -> GpuInventory:
        """The GPUs one server of the plan may use where it would run (the fit check's count,
        name and memory): this host's, or the best node's."""

    def up(self, plan: Plan, roles: Sequence[str] | None = None) -> None:
        """Create and start the plan's components (only `roles`, when given), in plan order.

        What components share (network, namespace, scripts) is created by the first call.
        """

    def alive(self, plan: Plan, role: str) -> str | None:
        """None while the component runs, else how it ended (exit code, OOM), in words that
        name the config field to change."""

    def readiness(self, plan: Plan, role: str) -> list[Check]:
        """What must hold before the component counts as ready (health, model served)."""

    def wait(self, plan: Plan, role: str, timeout_s: float) -> int:
        """Block until the component's main process ends; return its exit code. Raises
        DeadlineError after `timeout_s` seconds, leaving the component running."""

    def exec(self, plan: Plan, role: str, argv: list[str], on_output: Callable[[str], None],
             logged: bool = False) -> int:
        """Run argv inside the running component, streaming its output; return its exit code.
        `logged`: its output also goes into the component's own log (`logs ROLE`), as a
        benchmark client's output does for a compose user."""

    def copy_out(self, plan: Plan, role: str, path: str, dest: Path,
                 keep_tree: bool = False, replace: bool = False) -> list[Path]:
        """Copy the files under `path` in the component into `dest` (flattened, unless
        `keep_tree`); return the ones written ([] when `path` does not exist). A file already in
        `dest` is kept, unless `replace` (a trainer's metrics grow between copies). Works while
        the component runs and after its main process has ended, until `down`."""

    def logs(self, project: str, role: str, follow: bool = False, tail: int | None = None,
             replica: int = 0) -> Iterator[str]:
        """The component's log output, as text chunks; `follow` ends when the component does.
        `replica`: which pod of a component that spans nodes (0: rank 0, the leader)."""

    def status(self, project: str) -> list[ComponentState]:
        """Everything the project has in this runtime."""

    def projects(self) -> list[str]:
        """The projects that have anything in this runtime (its scope: a Kubernetes namespace),
        sorted, as `docker compose ls` lists them."""

    def down(self, project: str) -> list[str]:
        """Remove everything the project has; return what was removed. Idempotent."""

    def describe(self, plan: Plan) -> dict[str, Any]:
        """Versions and ids for environment.json, under DESCRIBE_KEYS: the runtime's kind, its
        engine's version, each component's image (or command) and id, the serving component's
        engine and version, and runtime-specific details."""


def to_main_log(argv: list[str]) -> list[str]:
    """argv run by container_scripts/to_main_log.py, which also copies its output into the
    container's main process's output (the container's log): for a runtime whose components are
    containers, whose log an exec'd command does not otherwise reach."""
    return ["python3", f"{SCRIPTS_MOUNT}/to_main_log.py", "--", *argv]


def secret_placeholder(env_name: str) -> str:
    """How a secret's value is written in rendered files: a reference, never the value."""
    return "${" + env_name + "}"


def parse_timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of an engine's or API server's RFC 3339 time, or None."""
    if not text:
        return None
    try:  # Docker gives nanoseconds, which Python cannot parse; the seconds are enough.
        trimmed = text.split(".")[0] + "+00:00" if "." in text else text.replace("Z", "+00:00")
        return datetime.fromisoformat(trimmed).timestamp()
    except ValueError:
        return None


def describe_record(kind: str, engine: str | None, components: dict[str, dict[str, Any]],
                    serving: dict[str, Any] | None, **details: Any) -> dict[str, Any]:
    """A `describe` answer with exactly DESCRIBE_KEYS; `serving` is the model server's engine
    and the version it reports (runtime/host.serving_record)."""
    return {"runtime": kind, "engine": engine, "components": components, "serving": serving,
            "details": details}
