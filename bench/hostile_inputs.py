#!/usr/bin/env python3
"""Every bad config of the corpus, and a few hostile inputs beside it, through the real CLI.

    python3 bench/hostile_inputs.py

Runs `python -m orchestrator validate` (a separate process, as a user would) for each file in
tests/bad_configs/ with its `# set:` and `# env:` lines, plus /dev/zero, a 2 MB file and a
binary file; prints how many were refused with one-line errors, how many printed a traceback,
and the slowest wall times. The goal: no traceback, none past 10 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_VARS = ("MODEL", "INPUT_LEN", "OUTPUT_LEN", "NUM_PROMPTS", "VLLM_SERVER_URL", "MAX_TOKENS")


def cases(scratch: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, validate arguments, environment) for each input."""
    found = []
    for path in sorted((REPO / "tests" / "bad_configs").glob("*.yaml")):
        args, env = ["-f", str(path)], {}
        for line in path.read_text().splitlines():
            if line.startswith("# set: "):
                args += ["--set", line[7:]]
            elif line.startswith("# env: "):
                name, _, value = line[7:].partition("=")
                env[name] = value
        found.append((path.stem, args, env))
    large = scratch / "large.yaml"
    large.write_text("server:\n  model: m\n" + "# padding\n" * 200_000)
    binary = scratch / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 64)
    found += [("dev-zero", ["-f", "/dev/zero"], {}), ("2mb-file", ["-f", str(large)], {}),
              ("binary-file", ["-f", str(binary)], {})]
    return found


def main() -> None:
    """Run every case and print the figures."""
    base = {k: v for k, v in os.environ.items() if k not in SEED_VARS}
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, args, env in cases(Path(scratch)):
            start = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "orchestrator", "validate", *args],
                                  capture_output=True, text=True, cwd=REPO, env={**base, **env},
                                  timeout=120)
            wall = time.monotonic() - start
            lines = done.stderr.splitlines()
            one_line = done.returncode == 1 and bool(lines) and all(x.startswith("error: ") for x in lines)
            results.append((wall, name, one_line, "Traceback" in done.stderr))
    refused = sum(1 for r in results if r[2])
    tracebacks = sum(1 for r in results if r[3])
    print(f"inputs: {len(results)}; refused with one-line errors: {refused}; tracebacks: {tracebacks}")
    print(f"wall time: max {max(r[0] for r in results):.2f} s,"
          f" mean {sum(r[0] for r in results) / len(results):.2f} s")
    for wall, name, ok, trace in sorted(results, reverse=True)[:5]:
        print(f"  {wall:6.2f} s  {name}{'' if ok else '  (NOT a one-line refusal)'}"
              f"{'  TRACEBACK' if trace else ''}")


if __name__ == "__main__":
    main()
