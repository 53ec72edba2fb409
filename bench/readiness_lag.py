#!/usr/bin/env python3
"""How late the tool sees a ready server: from vLLM's "Application startup complete" to the
tool's "server ready" line, on Docker and on the local runtime (goal: at most 0.25 s).

    .venv/bin/python bench/readiness_lag.py [--runtime docker|local] [--runs N]

Each run is `orchestrator up bench -d` of examples/cpu-tiny.yaml (the server starts, the tool
waits until it is ready, nothing is measured), then `down`. The start-up line's time: Docker's
own timestamp of the log line (`docker logs --timestamps`); on the local runtime, when the line
reached the server's log file (watched every 10 ms). The ready line's time: when the tool's
output carried it. The local runtime runs inside the CPU image (a bare host: the image has vLLM),
as tests/engine/test_local_runtime.py does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1",
       "PYTHONUNBUFFERED": "1"}
STARTED = "Application startup complete"
PROJECT = "readiness-lag"


def ready_seen(argv: list[str]) -> float:
    """Run `up bench -d`; the time its output said the server was ready."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ENV, cwd=REPO)
    assert proc.stdout is not None
    seen = None
    for line in proc.stdout:
        if seen is None and "ready in" in line:
            seen = time.time()
    if proc.wait() != 0 or seen is None:
        raise SystemExit(f"readiness_lag: {' '.join(argv)} failed (exit {proc.returncode})")
    return seen


def docker_run(results: str) -> float:
    """One start on Docker: the lag in seconds."""
    seen = ready_seen([sys.executable, "-m", "orchestrator", "up", "bench", "-d", "-f",
                       "examples/cpu-tiny.yaml", "-p", PROJECT, "--set", f"results_dir={results}"])
    try:
        logs = subprocess.run(["docker", "logs", "--timestamps", f"{PROJECT}-server"],
                              capture_output=True, text=True, check=True)
    finally:
        subprocess.run([sys.executable, "-m", "orchestrator", "down", "-p", PROJECT],
                       env=ENV, cwd=REPO, capture_output=True, check=False)
    line = next(x for x in (logs.stdout + logs.stderr).splitlines() if STARTED in x)
    stamp = line.split()[0]  # 2026-12-05T02:11:00.123456789Z
    logged = datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()
    return seen - logged


def local_run(image: str) -> float:
    """One start on the local runtime, in a bare host (the CPU image): the lag in seconds."""
    host = f"{PROJECT}-host"
    subprocess.run(["docker", "rm", "-f", host], capture_output=True, check=False)
    subprocess.run(["docker", "run", "-d", "--init", "--name", host, "--shm-size", "1g",
                    *(a for k in ("VLLM_NO_USAGE_STATS", "DO_NOT_TRACK", "HF_HUB_OFFLINE",
                                  "PYTHONUNBUFFERED") for a in ("-e", f"{k}=1")),
                    "-v", f"{REPO}:/repo:ro", "-w", "/repo", "-e", "PYTHONPATH=/repo/src",
                    image, "sleep", "infinity"], check=True, capture_output=True)
    try:
        log = f"/root/.local/state/orchestrator/local/{PROJECT}/server.log"
        watcher = subprocess.Popen(  # prints the time the line reached the log file
            ["docker", "exec", host, "python3", "-c",
             "import os,sys,time\n"
             f"p={log!r}\n"
             "while True:\n"
             "    if os.path.exists(p) and b'" + STARTED + "' in open(p,'rb').read():\n"
             "        print(time.time(), flush=True); break\n"
             "    time.sleep(0.01)\n"], stdout=subprocess.PIPE, text=True)
        got: list[float] = []
        reader = threading.Thread(target=lambda: got.append(float(watcher.communicate()[0])))
        reader.start()
        seen = ready_seen(["docker", "exec", "-e", "PYTHONUNBUFFERED=1", host, "python3", "-m",
                           "orchestrator", "up", "bench", "-d", "-f", "examples/cpu-tiny.yaml",
                           "-p", PROJECT, "--runtime", "local", "--set", "results_dir=/tmp/r"])
        reader.join(timeout=30)
        return seen - got[0]
    finally:
        subprocess.run(["docker", "rm", "-f", host], capture_output=True, check=False)


def main() -> None:
    """Print each run's lag and the worst."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=["docker", "local"], default="docker")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    image = subprocess.run([str(REPO / "host_scripts" / "build_images.sh"), "cpu"],
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    lags = []
    for run in range(args.runs):
        lag = docker_run("/tmp/readiness-lag") if args.runtime == "docker" else local_run(image)
        lags.append(lag)
        print(f"{args.runtime} run {run + 1}: ready seen {lag:.3f} s after '{STARTED}'")
    print(f"{args.runtime}: worst {max(lags):.3f} s, mean {sum(lags) / len(lags):.3f} s"
          f" (goal <= 0.25 s)")


if __name__ == "__main__":
    main()
