#!/usr/bin/env python3
"""Run a command and copy its output both to this stdout and to the container's main process's
output, so that what an exec'd command prints is in the component's own log (`docker logs`,
`kubectl logs`, `orchestrator logs client`), as a compose user expects of a benchmark client.

    to_main_log.py -- ARGV...

The exit code is the command's. Ctrl-C and SIGTERM are handed on to the command. When the main
process's output cannot be opened (another user, no /proc), the output still reaches stdout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import IO

MAIN_OUTPUT = "/proc/1/fd/1"  # the container's main process: its stdout is the container's log
CHUNK = 65536


def _open_main_output() -> IO[bytes] | None:
    try:
        return open(MAIN_OUTPUT, "ab", buffering=0)  # held open while the command runs
    except OSError:
        return None


def main() -> int:
    """Run the command given after `--`, copying its output; return its exit code."""
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("to_main_log.py: no command given (to_main_log.py -- ARGV...)", file=sys.stderr)
        return 2
    main_output = _open_main_output()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    assert child.stdout is not None
    out = sys.stdout.buffer
    while chunk := os.read(child.stdout.fileno(), CHUNK):  # as soon as any has come
        out.write(chunk)
        out.flush()
        if main_output is not None:
            try:
                main_output.write(chunk)
            except OSError:  # the log went away: the caller's copy is what counts
                main_output = None
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
