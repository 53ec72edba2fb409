#!/usr/bin/env python3
"""Orchestrator's overhead beyond vLLM's own measured time, from a run folder or a fresh run.

    .venv/bin/python bench/overhead.py bench_results/<run-id> [--wall SECONDS]
    .venv/bin/python bench/overhead.py --up [-f examples/cpu-sweep.yaml] [--before]

beyond vLLM = whole `up bench` wall time - every server start's ready time - vLLM's own measured
              benchmark durations: what orchestrator and the bench tool add (target: at most
              1 s per point + 3 s per run). With `sweep.parallel` above 1 the variants run in
              lanes at once (variants.json's `slot`): the physical limit is the longest lane's
              ready times plus its points' durations, and the target counts that lane's points.
--up runs `orchestrator up bench -f FILE` first and times the whole command from outside.
--before also measures the old way on the same stack: a fresh `vllm bench serve` process per
point (run_benchmark.sh --single C, as orchestrator ran each point until one process ran them
all), each point's wall time minus its measured duration (Docker only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from orchestrator.results.overhead import beyond_vllm

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
SCRIPT = "/opt/orchestrator/scripts/run_benchmark.sh"


def report(run: Path, wall: float | None) -> None:
    """Print the point table and the decomposition of the run's wall time."""
    env = json.loads((run / "environment.json").read_text())
    timings = env["timings"]
    summary = json.loads((run / "summary.json").read_text())
    variants = json.loads((run / "variants.json").read_text())
    point_wall = env.get("point_wall_s", {})
    print("| variant | workload | concurrency | completed | req/s | output tok/s | mean TTFT ms"
          " | mean TPOT ms | vLLM duration s | point wall s |")
    print("|" + " --- |" * 10)
    for r in summary:
        key = r["file"].removeprefix("raw/")
        print(f"| {r['variant']} | {r['workload']} | {r['concurrency']} | {r['completed']}"
              f" | {r['request_throughput']:.2f} | {r['output_throughput']:.1f}"
              f" | {r['mean_ttft_ms']:.2f} | {r['mean_tpot_ms']:.2f} | {r['duration']:.2f}"
              f" | {point_wall.get(key, float('nan')):.2f} |")
    wall = wall if wall is not None else timings["total_s"]
    overhead = beyond_vllm(wall, variants, summary)
    lane, points, measured, beyond = (overhead.lane, overhead.points, overhead.measured_s,
                                      overhead.beyond_s)
    ready = sum(overhead.ready_s)
    target = points * 1.0 + 3.0
    print()
    print(f"whole up bench wall time         {wall:8.2f} s")
    if overhead.lanes > 1:
        print(f"{overhead.lanes} lanes at once; the longest (slot {lane}) counts below")
    shown = ", ".join(f"{s:.1f}" for s in overhead.ready_s)
    print(f"server ready, {len(overhead.ready_s)} start(s){'':12}{ready:8.2f} s  ({shown})")
    print(f"vLLM's measured benchmark time   {measured:8.2f} s  ({points} points)")
    print(f"beyond vLLM's measured time      {beyond:8.2f} s  ({beyond / max(points, 1):.2f} s per"
          f" point; target <= {target:.0f} s = 1 s x {points} points + 3 s:"
          f" {'met' if beyond <= target else 'NOT met'})")


def before(project: str, file: str, results: str) -> None:
    """The old way on a detached stack: one fresh bench process per point."""
    up = [sys.executable, "-m", "orchestrator", "up", "bench", "-f", file, "-p", project, "-d",
          "--set", f"results_dir={results}", "--set", "sweep={}"]  # -d starts one server
    subprocess.run(up, check=True, env=ENV, cwd=REPO, stdout=subprocess.DEVNULL)
    client = f"{project}-client"
    try:
        config = yaml.safe_load((REPO / file).read_text())
        points = (config.get("workload") or {}).get("concurrency") or [1, 4]
        total_extra = 0.0
        print("\nbefore (one fresh `vllm bench serve` process per point):")
        for concurrency in points:
            start = time.monotonic()
            subprocess.run(["docker", "exec", client, "bash", SCRIPT, "--single", str(concurrency),
                            "--results-dir", f"/root/before-{concurrency}"],
                           check=True, capture_output=True, text=True)
            wall = time.monotonic() - start
            data = json.loads(subprocess.run(
                ["docker", "exec", client, "sh", "-c", f"cat /root/before-{concurrency}/*.json"],
                check=True, capture_output=True, text=True).stdout)
            total_extra += wall - data["duration"]
            print(f"  concurrency {concurrency}: wall {wall:.2f} s, vLLM duration"
                  f" {data['duration']:.2f} s, beyond {wall - data['duration']:.2f} s")
        print(f"  beyond vLLM's measured time: {total_extra:.2f} s"
              f" ({total_extra / len(points):.2f} s per point)")
    finally:
        subprocess.run([sys.executable, "-m", "orchestrator", "down", "-p", project], env=ENV,
                       cwd=REPO, stdout=subprocess.DEVNULL, check=False)


def main() -> None:
    """Analyse a run folder, or run `up bench` first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?")
    parser.add_argument("--wall", type=float, help="the whole command's wall time, measured outside")
    parser.add_argument("--up", action="store_true", help="run `orchestrator up bench` first")
    parser.add_argument("-f", "--file", default="examples/cpu-sweep.yaml")
    parser.add_argument("--before", action="store_true", help="also measure a process per point")
    args = parser.parse_args()
    if not args.up:
        if args.run is None:
            parser.error("give a run folder, or --up")
        report(args.run, args.wall)
        return
    with tempfile.TemporaryDirectory() as results:
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "orchestrator", "up", "bench", "-f", args.file,
                        "-p", "overhead", "--set", f"results_dir={results}"],
                       check=True, env=ENV, cwd=REPO)
        wall = time.monotonic() - start
        (run,) = [p for p in Path(results).iterdir() if p.is_dir()]
        report(run, wall)
        if args.before:
            before("overhead-before", args.file, results)


if __name__ == "__main__":
    main()
