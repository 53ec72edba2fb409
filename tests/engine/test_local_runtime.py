"""The local runtime for real: vLLM's CPU build and `vllm bench serve` as host processes.

A container of the CPU image stands in for a bare host: it has vLLM, the tiny model and
Python, and no Docker. orchestrator runs inside it from this checkout (PYTHONPATH), so every
process it starts is a process of that "host", and `ps -e` there shows whether any is left.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO

from .conftest import TEST_ENV
from .test_user_workloads import CONVERSATIONS, CUSTOM, check_conversations, check_custom

TINY = "examples/cpu-tiny.yaml"


class BareHost:
    """A long-lived container with vLLM and no Docker; `run` is a shell on it."""

    def __init__(self, image: str, results: Path) -> None:
        self.name = f"orch-bare-{uuid.uuid4().hex[:6]}"
        self.results = results
        env = [f"--env={k}={v}" for k, v in {**TEST_ENV, "PYTHONPATH": "/repo/src"}.items()]
        # --init reaps orphans as a host's init does, so a zombie is never mistaken for a leftover.
        subprocess.run(["docker", "run", "-d", "--init", "--name", self.name, "--shm-size", "1g", *env,
                        "-v", f"{REPO}:/repo:ro", "-v", f"{results}:/results", "-w", "/repo",
                        image, "sleep", "infinity"], check=True, capture_output=True)

    def run(self, script: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "exec", self.name, "bash", "-c", script],
                              capture_output=True, text=True, timeout=timeout)

    def orchestrator(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "exec", self.name, "python3", "-m", "orchestrator", *args],
                              capture_output=True, text=True, timeout=timeout)

    def processes(self) -> list[str]:
        """Every process on the host except its init, its idle `sleep` and this `ps`."""
        out = self.run("ps -eo pid=,stat=,args=").stdout.splitlines()
        return [line.strip() for line in out
                if not any(keep in line for keep in ("sleep infinity", "ps -eo", "bash -c ps"))
                and not line.strip().startswith("1 ")]

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)


@pytest.fixture(scope="module")
def host(cpu_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareHost]:
    bare = BareHost(cpu_image, tmp_path_factory.mktemp("local-results"))
    yield bare
    bare.remove()


@pytest.fixture
def results(host: BareHost) -> Iterator[str]:
    """A fresh results folder on the host for this test; nothing of the test runs after it."""
    name = f"/results/{uuid.uuid4().hex[:8]}"
    yield name
    for project in ("cpu-tiny", "cpu-tiny-s0", "cpu-tiny-s1",  # sweep lanes have their own
                    "cpu-conversations", "cpu-tiny-ext"):
        host.orchestrator("down", "-p", project, "--runtime", "local")


def _runs(host: BareHost, folder: str) -> list[Path]:
    local = host.results / Path(folder).relative_to("/results")
    return sorted(p for p in local.iterdir() if p.is_dir()) if local.exists() else []


def _up(host: BareHost, results: str, *extra: str, timeout: float = 600):
    return host.orchestrator("up", "bench", "-f", TINY, "--runtime", "local",
                             "--set", f"results_dir={results}", *extra, timeout=timeout)


def test_a_two_by_two_sweep_in_two_lanes_as_host_processes(host, results) -> None:
    result = _up(host, results, "--sweep", "server.max_num_seqs=4,8",
                 "--sweep", "workload.output_len=16,32", "--set", "sweep.parallel=2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run,) = _runs(host, results)
    raw = sorted((run / "raw").rglob("*.json"))
    assert [str(p.relative_to(run / "raw")) for p in raw] == [
        f"v{v}/w{w}-c{c}-r0.json" for v in (0, 1) for w in (0, 1) for c in (1, 4)]
    with (run / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        data = json.loads((run / row["file"]).read_text())
        assert int(row["completed"]) == data["completed"] == 20 and int(row["failed"]) == 0
        assert float(row["output_throughput"]) == data["output_throughput"] > 0
        assert data["total_output_tokens"] == 20 * int(row["workload.output_len"])
    variants = json.loads((run / "variants.json").read_text())
    assert sorted(v["slot"] for v in variants) == [0, 1]
    first, second = variants
    assert first["started_at"] < second["ended_at"] and second["started_at"] < first["ended_at"]
    environment = json.loads((run / "environment.json").read_text())
    assert environment["runtime"] == "local" and environment["serving"]["version"]
    assert (environment["sweep"]["parallel"], environment["sweep"]["server_starts"]) == (2, 2)
    for name in ("v0", "v1"):
        assert "Application startup complete" in (run / f"server-{name}.log").read_text()
    second_lane = next(v["name"] for v in variants if v["slot"] == 1)
    assert ":8001" in (run / f"server-{second_lane}.log").read_text()  # its own port
    assert host.processes() == []


def test_ps_logs_and_down_from_another_shell(host, results) -> None:
    assert _up(host, results, "--detach").returncode == 0
    ps = host.orchestrator("ps", "-p", "cpu-tiny", "--runtime", "local")
    assert ps.returncode == 0
    server_row = next(line for line in ps.stdout.splitlines() if "cpu-tiny-server" in line)
    assert "running (pid" in server_row and "healthy" in server_row and "8000" in server_row
    logs = host.orchestrator("logs", "server", "--tail", "200", "-p", "cpu-tiny", "--runtime", "local")
    assert "Application startup complete" in logs.stdout
    assert host.processes()  # the server (and its engine) and the idle client run
    # For another project, that server is one it did not start: benchmarked on loopback, and
    # left as it was (the same processes before and after).
    before = [line.split()[0] for line in host.processes()]
    other = _up(host, results, "-p", "cpu-tiny-ext", "--set", "workload.concurrency=[2]",
                "--set", "workload.output_len=8", "--set", "client.server_url=http://127.0.0.1:8000")
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-3000:]
    assert "http://127.0.0.1:8000 serves tiny-qwen2: max length 512" in other.stdout
    run = _runs(host, results)[-1]  # after the detached one's
    (variant,) = json.loads((run / "variants.json").read_text())
    assert variant["server"] == "external" and variant["endpoint"]["metrics"] is True
    assert json.loads((run / "summary.json").read_text())[0]["failed"] == 0
    assert [line.split()[0] for line in host.processes()] == before
    down = host.orchestrator("down", "-p", "cpu-tiny", "--runtime", "local")
    assert "removed process cpu-tiny-server (pid" in down.stdout
    assert host.processes() == []
    again = host.orchestrator("down", "-p", "cpu-tiny", "--runtime", "local")
    assert again.stdout == "nothing of project cpu-tiny to remove\n"


def test_server_that_exits_at_start(host, results) -> None:
    result = _up(host, results, "--set",
                 "server.extra_args=['--kv-cache-memory-bytes', '64M', '--no-such-flag']")
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: the server process cpu-tiny-server exited with code")
    assert "--no-such-flag" in result.stderr
    assert host.processes() == []


def test_health_timeout(host, results) -> None:
    result = _up(host, results, "--set", "server.startup_timeout=4")
    assert result.returncode == 1
    assert "error: the server was not ready within server.startup_timeout = 4s (still waiting" \
        " for GET http://127.0.0.1:8000/health: ConnectionError)" in result.stderr
    assert "ConnectionError" not in result.stdout  # the normal polls are not printed as steps
    assert host.processes() == []


def test_port_in_use_is_refused_before_starting(host, results) -> None:
    host.run("setsid python3 -m http.server 8000 >/dev/null 2>&1 < /dev/null &")
    try:
        time.sleep(1)
        result = _up(host, results)
        assert result.returncode == 1
        assert result.stderr.startswith(
            "error: port 8000 (server.port) is already in use on this host")
        assert _runs(host, results) == []
    finally:
        host.run("pkill -f 'http.server 8000'")
    assert host.processes() == []


def test_sigint_mid_sweep_keeps_finished_points(host, results) -> None:
    proc = subprocess.Popen(
        ["docker", "exec", host.name, "bash", "-c",
         f"echo $$ > /tmp/orch.pid; exec python3 -m orchestrator up bench -f {TINY} --runtime local"
         f" --set results_dir={results} --set workload.concurrency=[1,2,3,4,5,6]"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = _runs(host, results)
        if runs and list((runs[0] / "raw").glob("v0/w0-c1-*.json")):
            break
        time.sleep(0.5)
    host.run("kill -INT $(cat /tmp/orch.pid)")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "error: interrupted; everything started was removed, finished points are in" in stderr
    (run,) = _runs(host, results)
    kept = sorted((run / "raw").glob("v0/*.json"))
    assert 1 <= len(kept) < 6
    assert host.processes() == []


def test_up_train_as_host_processes(host, results) -> None:
    # The prompts come from a file on this host (trainer.dataset_path), read where they are.
    # Detached, then followed and taken down: `down` brings the output home from the runtime's
    # state folder before it removes that folder.
    on = ("-p", "cpu-train", "--runtime", "local")
    result = host.orchestrator("up", "train", "-f", "examples/cpu-train.yaml", *on, "--detach",
                               "--set", f"trainer.results_dir={results}",
                               "--set", "trainer.dataset_path=examples/data/grpo-questions.jsonl",
                               "--set", "trainer.save_steps=1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    followed = host.orchestrator("logs", "trainer", "-f", *on)
    assert "train_grpo.py: done" in followed.stdout, followed.stderr
    # From another folder: the run's relative dataset path still names the same file.
    down = host.run(f"cd /tmp && python3 -m orchestrator down {' '.join(on)}")
    assert "brought the trainer's output home" in down.stdout, down.stderr
    (run,) = _runs(host, results)
    assert "train_grpo.py: done" in (run / "trainer.log").read_text()
    with (run / "metrics.csv").open() as handle:
        steps = [row for row in csv.DictReader(handle) if row.get("loss")]
    assert [int(row["step"]) for row in steps] == [1, 2, 3]
    assert (run / "final" / "model.safetensors").stat().st_size > 1_000_000
    assert "LLM Generation:" in (run / "rollouts.log").read_text()
    # The trainer read the file where it is on the host (the repository is /repo there).
    assert json.loads((run / "settings.json").read_text())["dataset"] == (
        "/repo/examples/data/grpo-questions.jsonl")
    assert host.processes() == []
    # Resumed from its second checkpoint (the third removed, as if it had died after step 2):
    # step 3 again as a host process, reading the run folder where it is.
    shutil.rmtree(run / "checkpoint-3")
    resumed = host.orchestrator("up", "train", "--resume", f"{results}/{run.name}", "--runtime",
                                "local")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "going on from checkpoint-2" in resumed.stdout
    with (run / "metrics.csv").open() as handle:
        again = [int(row["step"]) for row in csv.DictReader(handle) if row.get("loss")]
    assert again == [1, 2, 3]
    settings = json.loads((run / "settings.json").read_text())
    assert settings["resume_from"].endswith(f"{run.name}/checkpoint-2")
    assert (run / "checkpoint-3" / "trainer_state.json").exists()
    assert host.processes() == []


def test_the_users_own_workloads_as_host_processes(host, results) -> None:
    """A conversations file replayed live (the server's own answers as history) and a custom
    JSONL, both read where they are on the host."""
    replay = host.orchestrator("up", "bench", "-f", CONVERSATIONS, "--runtime", "local",
                               "--set", f"results_dir={results}/conversations",
                               "--set", "workload.replay=live", "--set", "workload.concurrency=[4]")
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    (run,) = _runs(host, f"{results}/conversations")
    check_conversations(run, [4], recorded=False, report=False)  # the bare host has no matplotlib
    custom = _up(host, f"{results}/custom", *CUSTOM)
    assert custom.returncode == 0, custom.stdout[-3000:] + custom.stderr[-3000:]
    (run,) = _runs(host, f"{results}/custom")
    check_custom(run)
    assert host.processes() == []
