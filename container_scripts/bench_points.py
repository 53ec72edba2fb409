#!/usr/bin/env python3
"""Run several `vllm bench serve` points in ONE process, so vLLM is imported once, not per point.

    bench_points.py --point C NAME [W] [--point ...] --result-dir DIR [--metadata K=V ...]
                    [--workload W JSON ...] [--wait-ready URL SECONDS] -- VLLM_BENCH_FLAGS...

For each point (C: its max concurrency; NAME: its result file; W: a workload, optional) it calls
vLLM's own benchmark (`vllm.benchmarks.serve.main`, what `vllm bench serve` runs) with
VLLM_BENCH_FLAGS, then workload W's flags, plus `--max-concurrency C --save-result --result-dir
DIR --result-filename NAME --metadata concurrency=C K=V ...`, so each result JSON is exactly the
one `vllm bench serve --save-result` writes. A workload's JSON is {"flags": [...], "metadata":
["K=V", ...]}. With --wait-ready, vLLM's benchmark is imported first and the server's /health is
awaited after, so the import overlaps the server's start-up. With --metrics-url, the server's
/metrics is scraped every 0.5 s during each point into DIR/STEM.metrics.csv (server_metrics.py).
A line
`=== done concurrency C -> DIR/NAME (S s)` follows each point (S: its wall time in this
process), so a caller can copy it at once.
run_benchmark.sh builds these arguments from its seed-compatible flags; orchestrator's sweeps
pass one workload per workload variant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from server_metrics import Scraper  # beside this script


@dataclass
class Workload:
    """Flags and metadata one group of points adds to the common flags."""

    flags: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)


@dataclass
class Args:
    """The parsed command line."""

    points: list[tuple[int, str, str]]  # (concurrency, result file name, workload id)
    result_dir: str
    metadata: list[str]
    workloads: dict[str, Workload]
    wait_ready: tuple[str, float] | None
    flags: list[str]
    metrics_url: str | None = None


def fail(message: str) -> None:
    """Exit with one line on stderr."""
    sys.exit(f"bench_points.py: {message}")


def parse(argv: list[str]) -> Args:
    """The points, result folder, metadata, workloads and vLLM's flags from the command line."""
    if "--" not in argv:
        fail("put vLLM's benchmark flags after --")
    split = argv.index("--")
    own = argparse.ArgumentParser(prog="bench_points.py")
    own.add_argument("--point", nargs="+", action="append", metavar="C NAME [W]", required=True)
    own.add_argument("--result-dir", required=True)
    own.add_argument("--metadata", action="append", default=[], metavar="K=V")
    own.add_argument("--workload", nargs=2, action="append", default=[], metavar=("W", "JSON"))
    own.add_argument("--wait-ready", nargs=2, metavar=("URL", "SECONDS"))
    own.add_argument("--metrics-url", metavar="URL", help="scrape URL/metrics during each point")
    args = own.parse_args(argv[:split])
    workloads = {"": Workload()}
    for key, text in args.workload:
        try:
            data = json.loads(text)
            workloads[key] = Workload([str(f) for f in data.get("flags", [])],
                                      [str(m) for m in data.get("metadata", [])])
        except (ValueError, AttributeError, TypeError):
            fail(f"--workload {key}: not a JSON object with flags and metadata lists")
    points = []
    for given in args.point:
        if len(given) not in (2, 3):
            fail(f"--point takes CONCURRENCY NAME [WORKLOAD], not {' '.join(given)!r}")
        concurrency, name, workload = (*given, "")[:3]
        if not concurrency.isdigit() or int(concurrency) < 1:
            fail(f"concurrency {concurrency!r} must be a whole number of 1 or more")
        if "/" in name:
            fail(f"result name {name!r} must be a file name, not a path")
        if workload not in workloads:
            fail(f"--point {concurrency} {name} names workload {workload!r}, given by no --workload")
        points.append((int(concurrency), name, workload))
    wait = None
    if args.wait_ready:
        url, seconds = args.wait_ready
        try:
            wait = (url.rstrip("/"), float(seconds))
        except ValueError:
            fail(f"--wait-ready {url} {seconds}: SECONDS must be a number")
    return Args(points, args.result_dir, args.metadata, workloads, wait, argv[split + 1:],
                args.metrics_url)


def wait_ready(url: str, seconds: float) -> None:
    """Poll URL/health until it answers 200; exit when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as response:
                if response.status == 200:
                    return
        except Exception:  # noqa: BLE001 - any failure to connect means "not ready yet"
            pass
        if time.monotonic() >= deadline:
            fail(f"server {url} was not healthy within {seconds:g}s")
        time.sleep(0.5)


def main() -> int:
    """Run every point in order; stop at the first that fails."""
    given = parse(sys.argv[1:])
    started = time.monotonic()
    from vllm.benchmarks import serve  # the slow import, once for all points

    print(f"bench_points.py: vLLM's benchmark loaded in {time.monotonic() - started:.1f}s;"
          f" {len(given.points)} point(s)", flush=True)
    if given.wait_ready:
        wait_ready(*given.wait_ready)
    result_dir = given.result_dir
    os.makedirs(result_dir, exist_ok=True)  # the /metrics series is written before vLLM's JSON
    for concurrency, name, key in given.points:
        point_started = time.monotonic()
        work = given.workloads[key]
        parser = serve.FlexibleArgumentParser()
        serve.add_cli_args(parser)
        args = parser.parse_args([*given.flags, *work.flags, "--max-concurrency", str(concurrency),
                                  "--save-result", "--result-dir", result_dir,
                                  "--result-filename", name, "--metadata",
                                  f"concurrency={concurrency}", *given.metadata, *work.metadata])
        print(f"=== concurrency {concurrency} -> {result_dir}/{name}", flush=True)
        scraper = None
        if given.metrics_url:
            scraper = Scraper(given.metrics_url, f"{result_dir}/{name.removesuffix('.json')}"
                                                 ".metrics.csv")
            scraper.start()
        try:
            serve.main(args)
        finally:
            if scraper is not None:
                scraper.stop()
        took = time.monotonic() - point_started
        print(f"=== done concurrency {concurrency} -> {result_dir}/{name} ({took:.2f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
