"""`orchestrator up bench` for real: Docker, vLLM's CPU build, the real `vllm bench serve`."""

from __future__ import annotations

import csv
import subprocess
import time

import yaml

from .conftest import leftovers, read_json

TINY = "examples/cpu-tiny.yaml"


def test_a_two_by_two_sweep_restarts_the_server_once_per_variant(orch, project) -> None:
    started = time.monotonic()
    result = orch("up", "bench", "-f", TINY, "-p", project, "--set", f"results_dir={orch.results}",
                  "--sweep", "server.max_num_seqs=4,8", "--sweep", "workload.output_len=16,32",
                  "--set", "workload.slo.ttft_ms=2000")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]

    (run,) = orch.runs()
    raw = sorted(str(p.relative_to(run / "raw")) for p in (run / "raw").rglob("*.json"))
    expected = [(v, w, c) for v in (0, 1) for w in (0, 1) for c in (1, 4)]
    assert raw == [f"v{v}/w{w}-c{c}-r0.json" for v, w, c in expected]
    summary = read_json(run / "summary.json")
    assert [(r["variant"], r["server.max_num_seqs"], r["workload.output_len"], r["concurrency"])
            for r in summary] == [(f"v{v}", (4, 8)[v], (16, 32)[w], c) for v, w, c in expected]
    for row in summary:
        data = read_json(run / row["file"])
        assert data["completed"] == 20 and data["failed"] == 0 and data["max_concurrency"] == row["concurrency"]
        assert data["total_output_tokens"] == 20 * row["workload.output_len"]  # --ignore-eos
        assert data["orchestrator_run"] == run.name and data["variant"] == row["variant"]
        for key in ("request_throughput", "output_throughput", "mean_ttft_ms", "p99_ttft_ms",
                    "mean_tpot_ms", "mean_itl_ms", "completed", "failed"):
            assert row[key] == data[key]
    with (run / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["variant"], r["server.max_num_seqs"], r["workload.output_len"]) for r in rows] == [
        (s["variant"], str(s["server.max_num_seqs"]), str(s["workload.output_len"])) for s in summary]

    variants = read_json(run / "variants.json")
    assert [(v["name"], v["settings"], v["server"], v["status"], v["points_measured"])
            for v in variants] == [("v0", {"max_num_seqs": 4}, "started", "done", 4),
                                   ("v1", {"max_num_seqs": 8}, "started", "done", 4)]
    # The start as vLLM's own log tells it: eager (no compilation), weights and engine init timed.
    for v in variants:
        assert v["ready_s"] > 0 and v["compile_cache"] == "none (eager)", v
        # The tiny model's weights load in "0.00 seconds"; the line is there all the same.
        assert v["startup"]["weights_s"] >= 0 and v["startup"]["engine_init_s"] > 0
        assert 0 <= v["startup"]["other_s"] < v["ready_s"]
        # Warm-up on by default: the first point's concurrency, at least 4 requests, apart.
        assert v["warmup"]["requests"] == 4 and v["warmup"]["failed"] == 0
    environment = read_json(run / "environment.json")
    assert environment["runtime"] == "docker" and environment["serving"]["version"]
    assert environment["components"]["server"]["id"].startswith("sha256:")
    sweep = environment["sweep"]
    assert (sweep["server_starts"], sweep["points_measured"], sweep["points"]) == (2, 8, 8)
    assert sweep["estimate"]["server_starts"] == 2 and sweep["actual"]["wall_s"] <= took
    timings = environment["timings"]
    assert 0 < timings["server_ready_s"] < timings["total_s"] <= took
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["project"] == project and config["sweep"]["server"] == {"max_num_seqs": [4, 8]}
    # Each variant's server really ran with its own setting.
    assert "'max_num_seqs': 8" in (run / "server-v1.log").read_text()
    assert "'max_num_seqs': 8" not in (run / "server-v0.log").read_text()
    assert "=== done concurrency 4" in (run / "client-v1.log").read_text()
    # Latency percentiles, the SLO and the server's own /metrics, for every point.
    for row in summary:
        assert all(row[f"p{q}_{m}_ms"] is not None for q in (50, 90, 95, 99)
                   for m in ("ttft", "tpot", "itl", "e2el"))
        assert row["request_goodput"] is not None and 0 <= row["slo_attainment"] <= 1
        assert row["output_throughput_per_user"] > 0 and row["output_throughput_per_gpu"] is None
        # /metrics is sampled every 0.5 s: a point shorter than that may see no request running.
        assert row["metrics_scrapes"] >= 1 and row["max_running"] is not None
        assert row["max_kv_cache_usage"] is not None and "failed-requests" not in row["flags"]
        series = run / "metrics" / row["variant"] / f"{row['workload']}-c{row['concurrency']}-r0.csv"
        lines = series.read_text().splitlines()
        assert lines[0].startswith("t_s,clock_s,phase,running,waiting,kv_cache_usage")
        # The series covers its point: a sample before its first request, one after its last.
        assert row["metrics_coverage"] == "full", row
        assert lines[1].split(",")[2] == "before" and lines[-1].split(",")[2] == "after"
        # Fresh prompts at every point: prefill is measured, not read from the prefix cache.
        assert row["prefix_cache_hit_rate"] is not None and row["prefix_cache_hit_rate"] <= 0.05, row
        assert not {"prefix-cache-hits", "cold", "metrics-gap"} & set(row["flags"].split())
        assert row["steady_requests"] >= row["concurrency"] and row["steady_output_throughput"] > 0
    # Warmed up, a point lasts 0.3-2 s against a sample every 0.5 s: not every point's samples
    # catch a request in flight, but the sweep's do.
    assert max(row["max_running"] for row in summary) >= 1
    assert not list((run / "raw").rglob("*.csv"))  # raw/ keeps vLLM's JSON only
    # The report's numbers are summary.json's.
    markdown = (run / "report.md").read_text()
    for row in summary:
        assert f"| {row['concurrency']} | 0 | {row['output_throughput']:,.2f} |" in markdown
    assert (run / "report.html").read_text().count("data:image/png;base64,") == 3
    assert "capacity under the SLO: v0 w0" in result.stdout
    assert "report: " in result.stdout
    assert "estimate: 2 server variant(s), 8 point(s), 2 server start(s)" in result.stdout
    assert "[8/8] v1 w1 c4" in result.stdout and "out tok/s" in result.stdout
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
    # The client's log holds the benchmark's own output, as a compose user expects.
    client_log = orch("logs", "client", "-p", project)
    assert client_log.returncode == 0 and "bench_points.py: vLLM's benchmark loaded" in client_log.stdout
    assert "Serving Benchmark Result" in client_log.stdout
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
