#!/usr/bin/env python3
"""Orchestrator's own overhead in one `up bench` run, from its run folder.

    python3 bench/overhead.py bench_results/<run-id> [--wall SECONDS]

overhead = whole `up bench` wall time (--wall, else environment.json's total_s)
           - server ready time - the bench tool's own time (each sweep point's wall time)
beyond vLLM = wall - server ready - vLLM's own measured benchmark durations (the physical limit:
              what starting the bench tool and orchestrator add, per point)
Also prints the sweep table (the raw vLLM results) and the benchmark's measured durations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    """Print the table and the overhead decomposition."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--wall", type=float, help="the whole command's wall time, measured outside")
    args = parser.parse_args()
    env = json.loads((args.run / "environment.json").read_text())
    timings, points = env["timings"], env.get("point_wall_s", {})
    raw = sorted((json.loads(p.read_text()) for p in (args.run / "raw").glob("*.json")),
                 key=lambda r: r["max_concurrency"])
    print("| concurrency | completed | failed | req/s | output tok/s | mean TTFT ms | p99 TTFT ms"
          " | mean TPOT ms | mean ITL ms | bench duration s | point wall s |")
    print("|" + " --- |" * 11)
    for r in raw:
        print(f"| {r['max_concurrency']} | {r['completed']} | {r['failed']} | {r['request_throughput']:.2f}"
              f" | {r['output_throughput']:.1f} | {r['mean_ttft_ms']:.2f} | {r['p99_ttft_ms']:.2f}"
              f" | {r['mean_tpot_ms']:.2f} | {r['mean_itl_ms']:.2f} | {r['duration']:.2f}"
              f" | {points.get(str(r['max_concurrency']), float('nan')):.2f} |")
    wall = args.wall if args.wall is not None else timings["total_s"]
    tool = sum(points.values())
    measured = sum(r["duration"] for r in raw)
    overhead = wall - timings["server_ready_s"] - tool
    print()
    print(f"whole up bench wall time      {wall:8.2f} s")
    print(f"server ready (vLLM start-up)  {timings['server_ready_s']:8.2f} s")
    print(f"bench tool, all points        {tool:8.2f} s  (of which measured benchmark: {measured:.2f} s)")
    print(f"orchestrator overhead         {overhead:8.2f} s  ({overhead / wall:.1%} of the wall time)")
    beyond = wall - timings["server_ready_s"] - measured
    print(f"beyond vLLM's measured time   {beyond:8.2f} s  ({beyond / max(len(raw), 1):.2f} s per point,"
          f" {len(raw)} points)")


if __name__ == "__main__":
    main()
