#!/usr/bin/env python3
"""Capacity by search against a fine grid on the same server settings, side by side.

    bench/search_vs_grid.py CONFIG --grid 1,2,3,...,N [--out DIR] [--set KEY=VALUE ...]
                            [--same-server URL]

CONFIG has a `sweep.search`; the grid run is the same config with the search off, the grid's
concurrencies and no over-saturation stop (every point measured). Prints each run's answer,
points, time spent measuring (variants.json `measuring_s`: from the first point's start to the
last point home, the search's round trips between probes included), the run's wall time less
its server's start (which adds what every run pays once: the warm-up, the report, stopping the
server) and whole wall time, and whether the search's capacity is within one resolution step
(the search's own, or --resolution) of the grid's (its highest measured concurrency that meets
the SLO; with --set sweep.repeats=N, judged on all N runs' requests together, as the search
judges a probe) in at most half the grid's measuring time.
With --same-server URL the grid runs on the search's server (kept, then removed).
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

import yaml

from orchestrator.config.model import Slo
from orchestrator.stacks.steering import pooled

ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}


def run(config: str, out: Path, sets: list[str], flags: tuple[str, ...] = ()) -> tuple[Path, float]:
    """`orchestrator up bench` into `out`; the run folder and its wall time."""
    argv = [sys.executable, "-m", "orchestrator", "up", "bench", "-f", config, *flags,
            "--set", f"results_dir={out}", *_set_flags(sets)]
    started = time.monotonic()
    done = subprocess.run(argv, env={**os.environ, **ENV}, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"search_vs_grid: {' '.join(argv[3:])} failed (exit {done.returncode})")
    return sorted(p for p in out.iterdir() if p.is_dir())[-1], wall


def _set_flags(sets: list[str]) -> list[str]:
    """`--set KEY=VALUE` for each item, as `orchestrator` takes them."""
    return [flag for item in sets for flag in ("--set", item)]


def figures(folder: Path, wall: float) -> dict[str, Any]:
    """A run's points, measuring time, wall time less the server's start, and highest pass."""
    rows = json.loads((folder / "summary.json").read_text())
    variants = json.loads((folder / "variants.json").read_text())
    ready = sum(v.get("ready_s") or 0.0 for v in variants)
    slo = Slo(**_config(folder)["workload"]["slo"])
    by_value: dict[float, list[dict[str, Any]]] = {}
    for row in rows:  # a value's repeats judged together, as the search judges a probe
        by_value.setdefault(float(row["concurrency"]), []).append(row)
    passes = [value for value, runs in by_value.items() if pooled(value, runs, slo).passed]
    search = next(iter((variants[0].get("search") or {}).values()), None)
    return {"points": len(rows), "measuring_s": sum(v.get("measuring_s") or 0.0 for v in variants),
            "past_start_s": wall - ready, "wall_s": wall,
            "capacity": search["capacity"] if search else max(passes, default=None),
            "above": search["above"] if search else None}


def _config(folder: Path) -> dict[str, Any]:
    """The config the run ran with (its run folder's config.yaml)."""
    config: dict[str, Any] = yaml.safe_load((folder / "config.yaml").read_text())
    return config


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
    parser.add_argument("--resolution", type=float, default=None,
                        help="how far apart the two answers may be (default: the search's)")
    parser.add_argument(
        "--same-server", metavar="URL",
        help="run the grid on the search's own server, kept after the search and reached by the"
        " grid's client at URL (http://127.0.0.1:PORT on the local runtime,"
        " http://host.docker.internal:PORT on Docker), so that the answers do not differ by two"
        " server starts; the server is removed at the end")
    args = parser.parse_args()
    grid = [int(c) for c in args.grid.split(",")]
    project = f"search-vs-grid-{os.getpid()}"
    kept = ("--keep", "-p", project) if args.same_server else ()
    grid_sets = [*args.sets, "sweep.search=null", f"workload.concurrency={json.dumps(grid)}",
                 "sweep.skip_saturated=false"]
    try:
        search_run, search_wall = run(args.config, args.out / "search", args.sets, kept)
        if args.same_server:
            grid_run, grid_wall = run(args.config, args.out / "grid", [
                *grid_sets, f"client.server_url={args.same_server}"], ("-p", f"{project}-grid"))
        else:
            grid_run, grid_wall = run(args.config, args.out / "grid", grid_sets)
    finally:
        if args.same_server:
            down = [sys.executable, "-m", "orchestrator", "down", "-f", args.config, "-p", project,
                    *_set_flags(args.sets)]
            subprocess.run(down, env={**os.environ, **ENV}, check=False)
    found, fine = figures(search_run, search_wall), figures(grid_run, grid_wall)
    print(f"{'':28}{'search':>14}{'grid':>14}")
    print(f"{'capacity (concurrency)':28}{_answer(found):>14}{_answer(fine):>14}")
    for key, label in (("points", "points"), ("measuring_s", "measuring s"),
                       ("past_start_s", "wall s less its start"),
                       ("wall_s", "wall s (with its start)")):
        print(f"{label:28}{found[key]:>14,.1f}{fine[key]:>14,.1f}" if key != "points" else
              f"{label:28}{found[key]:>14}{fine[key]:>14}")
    step = (args.resolution if args.resolution is not None
            else float(_config(search_run)["sweep"]["search"]["resolution"]))
    agree = (found["capacity"] is not None and fine["capacity"] is not None
             and abs(found["capacity"] - fine["capacity"]) <= step)
    share = found["measuring_s"] / fine["measuring_s"] if fine["measuring_s"] else float("nan")
    print(f"same answer within one step ({step:g}): {'yes' if agree else 'no'}; search's measuring time"
          f" {share:.0%} of the grid's ({'within' if share <= 0.5 else 'over'} the 50% goal)")
    print(f"runs: {search_run} {grid_run}")


if __name__ == "__main__":
    main()
