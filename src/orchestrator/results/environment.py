"""environment.json: what a run ran on (orchestrator, Python, host, the runtime's description)
and how long each part took, kept as one record and written whenever it grows."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from typing import Any

from orchestrator import __version__
from orchestrator.results.run_folder import RunFolder

FILE = "environment.json"


@dataclass
class RunEnvironment:
    """The record behind environment.json."""

    runtime: dict[str, Any] = field(default_factory=dict)  # the runtime's `describe`
    timings: dict[str, float] = field(default_factory=dict)  # seconds, by phase
    point_wall_s: dict[str, float] = field(default_factory=dict)  # bench: each point's wall time
    sweep: dict[str, Any] = field(default_factory=dict)  # bench: matrix size, starts, estimate

    def as_json(self) -> dict[str, Any]:
        """The file's content: host facts first, then the runtime's keys, then the times."""
        data: dict[str, Any] = {"orchestrator": __version__, "python": sys.version.split()[0],
                                "host": platform.platform(), **self.runtime}
        if self.point_wall_s:
            data["point_wall_s"] = {k: round(v, 2) for k, v in self.point_wall_s.items()}
        if self.sweep:
            data["sweep"] = self.sweep
        if self.timings:
            data["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
        return data

    def write(self, folder: RunFolder) -> None:
        """Write (or rewrite) environment.json in the run folder, atomically."""
        folder.write_json(FILE, self.as_json())
