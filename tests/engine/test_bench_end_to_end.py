"""`orchestrator up bench` for real: Docker, vLLM's CPU build, the real `vllm bench serve`."""

from __future__ import annotations

import csv
import subprocess
import time

import yaml

from .conftest import leftovers, read_json

TINY = "examples/cpu-tiny.yaml"


def test_up_bench_sweeps_and_brings_results_home(orch, project) -> None:
    started = time.monotonic()
    result = orch("up", "bench", "-f", TINY, "-p", project, "--set", f"results_dir={orch.results}")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]

    (run,) = orch.runs()
    raw = sorted((run / "raw").glob("results_*.json"))
    assert [p.name.split("_")[1] for p in raw] == ["1", "4"]
    summary = read_json(run / "summary.json")
    assert [row["concurrency"] for row in summary] == [1, 4]
    for row, path in zip(summary, raw, strict=True):
        data = read_json(path)
        assert data["completed"] == 20 and data["failed"] == 0
        assert data["request_throughput"] > 0 and data["output_throughput"] > 0
        assert data["total_output_tokens"] == 20 * 32  # --ignore-eos: every token generated
        for key in ("request_throughput", "output_throughput", "mean_ttft_ms", "p99_ttft_ms",
                    "mean_tpot_ms", "mean_itl_ms", "completed", "failed"):
            assert row[key] == data[key]
        assert data["orchestrator_run"] == run.name
    with (run / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["request_throughput"]) for r in rows] == [s["request_throughput"] for s in summary]

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["project"] == project and config["server"]["model"] == "/models/tiny-qwen2"
    environment = read_json(run / "environment.json")
    assert environment["runtime"] == "docker" and environment["vllm"]
    assert environment["components"]["server"]["id"].startswith("sha256:")
    timings = environment["timings"]
    assert 0 < timings["server_ready_s"] < timings["total_s"] <= took
    assert "Application startup complete" in (run / "server.log").read_text()
    assert "=== concurrency 4" in (run / "client.log").read_text()
    assert "out tok/s" in result.stdout and "TTFT ms" in result.stdout
    assert leftovers(project) == []


def test_keep_then_ps_logs_script_by_hand_and_down(orch, project) -> None:
    up = orch("up", "bench", "-f", TINY, "-p", project, "--keep",
              "--set", "workload.concurrency=[2]", "--set", f"results_dir={orch.results}")
    assert up.returncode == 0, up.stderr
    assert f"orchestrator down -p {project}" in up.stdout

    ps = orch("ps", "-p", project)
    assert ps.returncode == 0
    assert f"{project}-server" in ps.stdout and f"{project}-client" in ps.stdout
    assert "running" in ps.stdout and "8000->8000/tcp" in ps.stdout

    logs = orch("logs", "server", "-p", project, "--tail", "5")
    assert logs.returncode == 0 and len(logs.stdout.splitlines()) == 5
    follower = orch.popen("logs", "server", "-p", project, "-f")
    # Wait for the line itself (the server printed it long ago), not for a clock.
    assert follower.stdout is not None
    for line in follower.stdout:
        if "Application startup complete" in line:
            break
    assert follower.poll() is None  # -f keeps following after the last line
    follower.terminate()
    follower.communicate(timeout=10)

    # A person can run the sweep by hand, the same way the orchestrator does.
    client = f"{project}-client"
    script = "/opt/orchestrator/scripts/run_benchmark.sh"
    by_hand = subprocess.run(["docker", "exec", client, "bash", script, "--single", "3",
                              "--num-prompts", "6", "--results-dir", "/root/by-hand"],
                             capture_output=True, text=True, timeout=300)
    assert by_hand.returncode == 0, by_hand.stderr
    listing = subprocess.run(["docker", "exec", client, "ls", "/root/by-hand"],
                             capture_output=True, text=True, check=True).stdout
    assert listing.startswith("results_3_") and listing.strip().endswith(".json")
    too_long = subprocess.run(["docker", "exec", client, "bash", script, "--single", "1",
                               "--input-len", "500", "--output-len", "100"],
                              capture_output=True, text=True, timeout=120)
    assert too_long.returncode == 1
    assert "exceeds the server's max model length 512" in too_long.stderr
    assert "=== concurrency" not in too_long.stdout

    first = orch("down", "-p", project)
    assert first.returncode == 0
    assert f"removed container {project}-server" in first.stdout
    assert f"removed network {project}-net" in first.stdout
    assert leftovers(project) == []
    again = orch("down", "-p", project)
    assert again.returncode == 0 and "nothing of project" in again.stdout
