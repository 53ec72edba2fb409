#!/usr/bin/env python3
"""Run several `vllm bench serve` points in ONE process, so vLLM is imported once, not per point.

    bench_points.py --point C NAME [--point C NAME ...] --result-dir DIR [--metadata K=V ...]
                    -- VLLM_BENCH_FLAGS...

For each point (C: its max concurrency; NAME: its result file) it calls vLLM's own benchmark
(`vllm.benchmarks.serve.main`, what `vllm bench serve` runs) with VLLM_BENCH_FLAGS plus
`--max-concurrency C --save-result --result-dir DIR --result-filename NAME --metadata
concurrency=C K=V ...`, so each result JSON is
exactly the one `vllm bench serve --save-result` writes. A line
`=== done concurrency C -> DIR/NAME` follows each point, so a caller can copy it at once.
run_benchmark.sh builds these arguments from its seed-compatible flags.
"""

from __future__ import annotations

import argparse
import sys
import time


def parse(argv: list[str]) -> tuple[list[tuple[int, str]], str, list[str], list[str]]:
    """(points, result folder, metadata, vLLM's flags) from the command line."""
    if "--" not in argv:
        sys.exit("bench_points.py: put vLLM's benchmark flags after --")
    split = argv.index("--")
    own = argparse.ArgumentParser(prog="bench_points.py")
    own.add_argument("--point", nargs=2, action="append", metavar=("CONCURRENCY", "NAME"),
                     required=True)
    own.add_argument("--result-dir", required=True)
    own.add_argument("--metadata", action="append", default=[], metavar="K=V")
    args = own.parse_args(argv[:split])
    points = []
    for concurrency, name in args.point:
        if not concurrency.isdigit() or int(concurrency) < 1:
            sys.exit(f"bench_points.py: concurrency {concurrency!r} must be a whole number of 1 or more")
        if "/" in name:
            sys.exit(f"bench_points.py: result name {name!r} must be a file name, not a path")
        points.append((int(concurrency), name))
    return points, args.result_dir, args.metadata, argv[split + 1:]


def main() -> int:
    """Run every point in order; stop at the first that fails."""
    points, result_dir, metadata, flags = parse(sys.argv[1:])
    started = time.monotonic()
    from vllm.benchmarks import serve  # the slow import, once for all points

    print(f"bench_points.py: vLLM's benchmark loaded in {time.monotonic() - started:.1f}s;"
          f" {len(points)} point(s)", flush=True)
    for concurrency, name in points:
        parser = serve.FlexibleArgumentParser()
        serve.add_cli_args(parser)
        args = parser.parse_args([*flags, "--max-concurrency", str(concurrency), "--save-result",
                                  "--result-dir", result_dir, "--result-filename", name,
                                  "--metadata", f"concurrency={concurrency}", *metadata])
        print(f"=== concurrency {concurrency} -> {result_dir}/{name}", flush=True)
        serve.main(args)
        print(f"=== done concurrency {concurrency} -> {result_dir}/{name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
