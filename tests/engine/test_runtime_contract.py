"""One contract, every runtime (the idea of testcontainers' protocol-compliance test).

The same scenarios run on each runtime of the registry, through `runtime.base.Runtime` only:
Docker on the real engine (the CPU image), local as real host processes, and Kubernetes on the
real single-node cluster (test_kubernetes_real.py calls `check_contract`, as that cluster is
built while the other tests run). The plan is made by hand, not from a config:
a server that answers /health (Python's http.server), an idle client, and a trainer that writes
output, logs two lines and exits with code 3.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import DeadlineError, EngineError
from orchestrator.names import Role
from orchestrator.plan import (
    QUIET_ENV,
    SCRIPTS_MOUNT,
    Component,
    HttpProbe,
    Placement,
    Plan,
    Port,
    Scope,
    Volume,
)
from orchestrator.plan.common import component_labels, project_labels
from orchestrator.readiness import wait_until_ready
from orchestrator.runtime.base import DESCRIBE_KEYS, Runtime
from orchestrator.runtime.registry import KINDS, get_runtime

OUTPUT = "/root/train_output"
RESULTS = "/root/bench_results"
# The client's exec: writes a file, then two lines with a pause between them, then exits 4.
EXEC = ["sh", "-c", 'mkdir -p "$1/a" && echo x > "$1/a/f.txt" && echo one && sleep 0.6'
        ' && echo two && exit 4', "sh", f"{RESULTS}/contract"]
# The trainer: writes its output, logs, and ends with code 3 some seconds ($2) after it starts.
TRAIN = ["sh", "-c", 'mkdir -p "$1/sub" && echo 1 > "$1/sub/m.csv" && echo started && sleep "$2"'
         ' && echo done && exit 3', "sh", OUTPUT]
SERVE = ["sh", "-c", 'mkdir -p "$1" && echo ok > "$1/health" && exec python3 -m http.server "$2"'
         ' --bind 0.0.0.0 --directory "$1"', "sh", "/srv/www"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def contract_plan(kind: str, image: str, trainer_s: int = 4) -> Plan:
    """Server, client and trainer, as a stack would plan them, for `kind`; the trainer runs
    for `trainer_s` seconds (longer than the steps before `wait` take)."""
    project = f"t-contract-{kind}-{uuid.uuid4().hex[:4]}"
    labels = project_labels(project, "contract", "contract-run")
    port = _free_port()
    # Docker publishes the server's port 8000 on a free host port; host processes listen on it.
    inner = port if kind == "local" else 8000
    cache = Volume("model-cache", "/root/.cache/huggingface", "model-cache")
    scripts = Volume("scripts", SCRIPTS_MOUNT, "scripts", read_only=True)

    def component(role: Role, argv: list[str], **extra: Any) -> Component:
        return Component(role=role, name=f"{project}-{role}", image=image, argv=argv,
                         env=dict(QUIET_ENV), labels=component_labels(labels, role), **extra)

    return Plan(
        project=project, stack="contract", network=f"{project}-net", labels=labels,
        scope=Scope(namespace="contract"), placement=Placement(create_namespace=True),
        components=[
            component(Role.server, [*SERVE, str(inner)], ports=[Port("http", inner, port)],
                      probe=HttpProbe("/health", inner, 1, 1, 120),
                      volumes=[Volume("www", "/srv/www", "scratch"), cache]),
            component(Role.client, ["sleep", "infinity"],
                      volumes=[scripts, Volume("results", RESULTS, "scratch")]),
            component(Role.trainer, [*TRAIN, str(trainer_s)],
                      volumes=[scripts, Volume("output", OUTPUT, "scratch"), cache]),
        ],
    )


@dataclass
class Harness:
    """A runtime under test and the plan it runs."""

    runtime: Runtime
    plan: Plan


# Kubernetes: test_kubernetes_real.py, on the real cluster.
@pytest.fixture(params=[kind for kind in KINDS if kind != "kubernetes"])
def harness(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """Each registered runtime (but Kubernetes), connected, with a contract plan for it."""
    kind = request.param
    if kind == "docker":
        image = request.getfixturevalue("cpu_image")
    else:
        image = "local"
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    plan = contract_plan(kind, image)
    runtime = get_runtime(kind, "contract", plan.scope)
    yield Harness(runtime, plan)
    runtime.down(plan.project)


def test_the_runtime_contract(harness: Harness, tmp_path: Path) -> None:
    check_contract(harness.runtime, harness.plan, tmp_path)


def check_contract(runtime: Runtime, plan: Plan, tmp_path: Path) -> None:
    """The contract's scenarios, in order, on one runtime (also run on the real cluster by
    test_kubernetes_real.py)."""
    runtime.preflight(plan)
    runtime.up(plan)

    # Readiness: the server's checks pass while it is alive.
    took = wait_until_ready(runtime.readiness(plan, Role.server),
                            alive=lambda: runtime.alive(plan, Role.server), timeout_s=120,
                            interval_s=0.5)
    assert took < 120 and runtime.alive(plan, Role.server) is None

    # Exec streams its output as it comes and returns the command's exit code.
    chunks: list[tuple[float, str]] = []
    code = runtime.exec(plan, Role.client, EXEC, lambda text: chunks.append((time.monotonic(), text)))
    ended = time.monotonic()
    assert code == 4
    assert "".join(text for _, text in chunks) == "one\ntwo\n"
    first_seen = next(at for at, text in chunks if "one" in text)
    assert ended - first_seen > 0.4, "the first line arrived only when the command ended"

    # A logged exec streams and returns the same, and its output is in the component's log.
    said: list[str] = []
    logged = ["sh", "-c", "echo into-the-log; echo and-stderr >&2; exit 5"]
    assert runtime.exec(plan, Role.client, logged, said.append, logged=True) == 5
    assert sorted("".join(said).split()) == ["and-stderr", "into-the-log"]
    deadline = time.monotonic() + 10  # a container's log is written by its engine, a moment later
    while "and-stderr" not in (text := "".join(runtime.logs(plan.project, Role.client))) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "into-the-log" in text and "and-stderr" in text and "one" not in text
    # A component of one pod or container has no other replica to read.
    with pytest.raises(EngineError, match=r"replica|pod 1"):
        "".join(runtime.logs(plan.project, Role.client, replica=1))

    # copy_out: flattened or as a tree, only new files, nothing for a path that is not there.
    flat = runtime.copy_out(plan, Role.client, f"{RESULTS}/contract", tmp_path / "flat")
    assert [p.relative_to(tmp_path / "flat").as_posix() for p in flat] == ["f.txt"]
    tree = runtime.copy_out(plan, Role.client, f"{RESULTS}/contract", tmp_path / "tree", keep_tree=True)
    assert [p.relative_to(tmp_path / "tree").as_posix() for p in tree] == ["a/f.txt"]
    assert (tmp_path / "tree" / "a" / "f.txt").read_text() == "x\n"
    assert runtime.copy_out(plan, Role.client, f"{RESULTS}/contract", tmp_path / "flat") == []
    assert runtime.copy_out(plan, Role.client, f"{RESULTS}/none", tmp_path / "none") == []
    # ... or, with `replace`, every file again (a trainer's metrics.csv grows between copies).
    grown = ["sh", "-c", 'echo y >> "$1/a/f.txt"', "sh", f"{RESULTS}/contract"]
    assert runtime.exec(plan, Role.client, grown, lambda _: None) == 0
    again = runtime.copy_out(plan, Role.client, f"{RESULTS}/contract", tmp_path / "tree",
                             keep_tree=True, replace=True)
    assert [p.relative_to(tmp_path / "tree").as_posix() for p in again] == ["a/f.txt"]
    assert (tmp_path / "tree" / "a" / "f.txt").read_text() == "x\ny\n"

    # wait: a deadline that passes raises at once and leaves the component running ...
    started = time.monotonic()
    with pytest.raises(DeadlineError, match=r"still running after 0\.5s"):
        runtime.wait(plan, Role.trainer, timeout_s=0.5)
    assert time.monotonic() - started < 10
    # ... and the exit code comes back once the main process has ended.
    assert runtime.wait(plan, Role.trainer, timeout_s=120) == 3
    assert "exited with code 3" in (runtime.alive(plan, Role.trainer) or "")

    # copy_out still works after the component's main process has ended.
    output = runtime.copy_out(plan, Role.trainer, OUTPUT, tmp_path / "out", keep_tree=True)
    assert "sub/m.csv" in [p.relative_to(tmp_path / "out").as_posix() for p in output]

    # Logs, whole and followed (a follow ends with the component).
    assert "started" in "".join(runtime.logs(plan.project, Role.trainer))
    assert "done" in "".join(runtime.logs(plan.project, Role.trainer, follow=True))

    # Status and describe speak the same language on every runtime; the project is listed.
    rows = runtime.status(plan.project)
    assert {row.component for row in rows} == {"server", "client", "trainer"}
    assert all(row.instance for row in rows) and len({row.instance for row in rows}) == 3
    assert plan.project in runtime.projects()
    described = runtime.describe(plan)
    assert tuple(described) == DESCRIBE_KEYS
    assert described["runtime"] == runtime.kind and described["engine"]
    assert set(described["components"]) == {"server", "client", "trainer"}

    # Down removes everything, and is safe to repeat.
    assert runtime.down(plan.project)
    assert runtime.status(plan.project) == []
    assert plan.project not in runtime.projects()
    assert runtime.down(plan.project) == []
