#!/usr/bin/env python3
"""Time the main job: the CPU image build (or its reuse) and `orchestrator up bench`.

    python3 bench/up_bench_timings.py [-f examples/cpu-tiny.yaml] [--runs 1]

Prints the image step's wall time, then for each run the server-ready, sweep and total times
that the run folder's environment.json recorded, and the wall time of the whole command.
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

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    """Run the timings and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--file", default="examples/cpu-tiny.yaml")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    env = {**os.environ, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}

    start = time.monotonic()
    subprocess.run([str(REPO / "host_scripts" / "build_images.sh"), "cpu"], check=True, env=env)
    print(f"image build or reuse: {time.monotonic() - start:.1f} s")

    with tempfile.TemporaryDirectory() as results:
        for index in range(args.runs):
            start = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "orchestrator", "up", "bench", "-f", args.file,
                 "-p", "bench-timing", "--set", f"results_dir={results}"],
                check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
            )
            wall = time.monotonic() - start
            run = sorted(Path(results).iterdir())[-1]
            timings = json.loads((run / "environment.json").read_text())["timings"]
            print(f"run {index + 1}: server ready {timings['server_ready_s']:.1f} s, sweep"
                  f" {timings['sweep_s']:.1f} s, up bench {timings['total_s']:.1f} s"
                  f" (command wall time {wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
