"""Faults on the real engine: each ends with a clear message and nothing of the project left."""

from __future__ import annotations

import signal
import socket
import time

from .conftest import leftovers, read_json

TINY = "examples/cpu-tiny.yaml"


def test_server_that_exits_at_start(orch, project) -> None:
    result = orch("up", "bench", "-f", TINY, "-p", project, "--set", f"results_dir={orch.results}",
                  "--set", "server.extra_args=['--kv-cache-memory-bytes', '64M', '--no-such-flag']")
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: the server container {project}-server exited with code")
    assert "(OOM-killed: no) while starting; its last 50 log lines follow" in first
    assert "--no-such-flag" in result.stderr  # vLLM's own complaint, from the log tail
    assert "Traceback (most recent call last)" not in first
    assert leftovers(project) == []
    (run,) = orch.runs()
    assert "--no-such-flag" in (run / "server.log").read_text()


def test_health_timeout(orch, project) -> None:
    result = orch("up", "bench", "-f", TINY, "-p", project, "--set", f"results_dir={orch.results}",
                  "--set", "server.startup_timeout=4")
    assert result.returncode == 1
    assert "error: the server was not ready within server.startup_timeout = 4s" in result.stderr
    assert "raise server.startup_timeout" in result.stderr
    assert leftovers(project) == []


def test_image_that_does_not_exist(orch, project) -> None:
    result = orch("up", "bench", "-f", TINY, "-p", project,
                  "--set", "server.image=orchestrator-no-such-image:1",
                  "--set", f"results_dir={orch.results}")
    assert result.returncode == 1
    assert ("error: image 'orchestrator-no-such-image:1' (server.image) is not on this host and"
            " pulling it failed") in result.stderr
    assert leftovers(project) == []
    assert orch.runs() == []  # refused before a run folder was made


def test_host_port_already_taken(orch, project) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = orch("up", "bench", "-f", TINY, "-p", project,
                      "--set", f"server.host_port={port}", "--set", f"results_dir={orch.results}")
    assert result.returncode == 1
    assert f"error: host port {port} (server.host_port) is already in use on this host" in result.stderr
    assert leftovers(project) == []


def test_sigint_mid_sweep_then_resume_measures_each_point_once(orch, project) -> None:
    proc = orch.popen("up", "bench", "-f", TINY, "-p", project,
                      "--set", "workload.concurrency=[1, 2, 3]", "--sweep", "workload.output_len=16,32",
                      "--set", f"results_dir={orch.results}")
    stderr = orch.interrupt_after_first_point(proc, wait_s=300)
    assert proc.returncode == 130
    assert "error: interrupted; everything started was removed, finished points are in" in stderr
    assert "orchestrator up bench --resume" in stderr
    (run,) = orch.runs()
    before = {p.name: p.read_bytes() for p in (run / "raw" / "v0").glob("*.json")}
    assert 1 <= len(before) < 6
    assert leftovers(project) == []

    resumed = orch("up", "bench", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout[-3000:]
    assert f"resuming: {len(before)} point(s) already home are skipped" in resumed.stdout
    after = {p.name: p.read_bytes() for p in (run / "raw" / "v0").glob("*.json")}
    assert sorted(after) == sorted(f"w{w}-c{c}-r0.json" for w in (0, 1) for c in (1, 2, 3))
    assert all(after[name] == data for name, data in before.items())  # not measured again
    # The resumed process measured exactly the points that were not home.
    log = (run / "client.log").read_text()
    resumed_part = log[log.rindex("bench_points.py: vLLM's benchmark loaded"):]
    measured = [line.rsplit("/", 1)[1].split(" ")[0] for line in resumed_part.splitlines()
                if line.startswith("=== done concurrency")]  # "NAME (1.23 s)"
    assert sorted(measured) == sorted(set(after) - set(before))
    sweep = read_json(run / "environment.json")["sweep"]
    assert (sweep["points_before"], sweep["points_measured"]) == (len(before), 6 - len(before))
    assert len(read_json(run / "summary.json")) == 6
    assert leftovers(project) == []


def test_sigterm_is_handled_like_ctrl_c(orch, project) -> None:
    proc = orch.popen("up", "bench", "-f", TINY, "-p", project, "--set", f"results_dir={orch.results}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(leftovers(project)) < 3:
        time.sleep(0.5)  # the network and both containers exist: the server is starting
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert leftovers(project) == []
