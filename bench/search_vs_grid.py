#!/usr/bin/env python3
"""Capacity by search against a fine grid on the same server settings, side by side.

    bench/search_vs_grid.py CONFIG --grid 1,2,3,...,N [--out DIR] [--set KEY=VALUE ...]

CONFIG has a `sweep.search`; the grid run is the same config with the search off, the grid's
concurrencies and no over-saturation stop (every point measured). Prints each run's answer,
points, time spent measuring (the run's wall time less its server's start) and whole wall
time, and whether the search's capacity is within one resolution step of the grid's (its
highest measured concurrency that meets the SLO) in at most half the grid's measuring time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}


def run(config: str, out: Path, sets: list[str]) -> tuple[Path, float]:
    """`orchestrator up bench` into `out`; the run folder and its wall time."""
    argv = [sys.executable, "-m", "orchestrator", "up", "bench", "-f", config,
            "--set", f"results_dir={out}"]
    for item in sets:
        argv += ["--set", item]
    started = time.monotonic()
    done = subprocess.run(argv, env={**os.environ, **ENV}, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"search_vs_grid: {' '.join(argv[3:])} failed (exit {done.returncode})")
    return sorted(p for p in out.iterdir() if p.is_dir())[-1], wall


def figures(folder: Path, wall: float) -> dict[str, Any]:
    """A run's points, measuring time (wall less the server's start) and highest pass."""
    rows = json.loads((folder / "summary.json").read_text())
    variants = json.loads((folder / "variants.json").read_text())
    ready = sum(v.get("ready_s") or 0.0 for v in variants)
    passes = [float(r["concurrency"]) for r in rows if r.get("slo_met")]
    search = next(iter((variants[0].get("search") or {}).values()), None)
    return {"points": len(rows), "measuring_s": wall - ready, "wall_s": wall,
            "capacity": search["capacity"] if search else max(passes, default=None),
            "above": search["above"] if search else None}


def _answer(run: dict[str, Any]) -> str:
    """`12 (< 16)`: the capacity and the lowest failure above it; `none` when nothing passed."""
    capacity, above = run["capacity"], run["above"]
    text = "none" if capacity is None else f"{capacity:g}"
    return f"{text} (< {above:g})" if above is not None else text


def main() -> None:
    """Run both and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--grid", required=True, help="the grid's concurrencies, 1,2,3,...")
    parser.add_argument("--out", type=Path, default=Path("bench_results/search-vs-grid"))
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--resolution", type=float, default=1.0)
    args = parser.parse_args()
    grid = [int(c) for c in args.grid.split(",")]
    search_run, search_wall = run(args.config, args.out / "search", args.sets)
    grid_run, grid_wall = run(args.config, args.out / "grid", [
        *args.sets, "sweep.search=null", f"workload.concurrency={json.dumps(grid)}",
        "sweep.skip_saturated=false"])
    found, fine = figures(search_run, search_wall), figures(grid_run, grid_wall)
    print(f"{'':28}{'search':>14}{'grid':>14}")
    print(f"{'capacity (concurrency)':28}{_answer(found):>14}{_answer(fine):>14}")
    for key, label in (("points", "points"), ("measuring_s", "measuring s"),
                       ("wall_s", "wall s (with its start)")):
        print(f"{label:28}{found[key]:>14,.1f}{fine[key]:>14,.1f}" if key != "points" else
              f"{label:28}{found[key]:>14}{fine[key]:>14}")
    agree = (found["capacity"] is not None and fine["capacity"] is not None
             and abs(found["capacity"] - fine["capacity"]) <= args.resolution)
    share = found["measuring_s"] / fine["measuring_s"] if fine["measuring_s"] else float("nan")
    print(f"same answer within one step: {'yes' if agree else 'no'}; search's measuring time"
          f" {share:.0%} of the grid's ({'within' if share <= 0.5 else 'over'} the 50% goal)")
    print(f"runs: {search_run} {grid_run}")


if __name__ == "__main__":
    main()
