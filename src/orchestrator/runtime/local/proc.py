"""Processes on this host, read from /proc: is a recorded process still the one we started,
is any process of a group left, and stopping whole groups as `docker stop` does."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from orchestrator.errors import EngineError

STOP_GRACE_S = 10.0  # between SIGTERM and SIGKILL, as `docker stop` does


def _stat(pid: int | str) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks, which tells a reused pid apart."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def alive(entry: dict[str, Any]) -> bool:
    """Whether the recorded process still runs (not a zombie, not a new process with its pid)."""
    fields = _stat(entry["pid"])
    if fields is None or fields[0] in ("Z", "X"):
        return False
    recorded = entry.get("start_ticks")
    return recorded is None or int(fields[19]) == recorded


def stop_groups(pgids: list[int]) -> None:
    """SIGTERM each process group, then SIGKILL what is left after the grace period."""
    for pgid in pgids:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(_group_alive(g) for g in pgids):
        time.sleep(0.2)
    for pgid in pgids:
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise EngineError(f"not allowed to stop process group {pgid}: {exc.strerror}") from None


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _stat(proc.name)
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False

