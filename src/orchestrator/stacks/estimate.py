"""How long a sweep will take, before it starts: from earlier runs of the same model in
results_dir (their ready times and point durations) where there are any, else stated defaults."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.config.sweep_matrix import Matrix
from orchestrator.errors import ConfigError
from orchestrator.results.environment import FILE as ENVIRONMENT_FILE
from orchestrator.results.run_folder import VARIANTS_FILE, read_config, read_rows, read_variants

HISTORY_RUNS = 50  # the newest run folders read
DEFAULT_READY_S = {False: 60.0, True: 300.0}  # CPU, GPU: a server's start-up
DEFAULT_POINT_S = 30.0  # one point's benchmark
POINT_OVERHEAD_S = 1.0  # what orchestrator adds to a point (copy home, summary)


@dataclass(frozen=True)
class Estimate:
    """A sweep's expected wall time and GPU-hours, and what it was derived from."""

    variants: int
    points: int
    server_starts: int
    parallel: int
    ready_s: float  # per server start
    point_s: float  # per point
    wall_s: float
    gpu_hours: float
    source: str

    def line(self) -> str:
        """One line for the terminal."""
        return (f"{self.variants} server variant(s), {self.points} point(s),"
                f" {self.server_starts} server start(s), parallel {self.parallel}: about"
                f" {_duration(self.wall_s)}, {self.gpu_hours:.2f} GPU-hours ({self.source})")

    def as_json(self) -> dict[str, Any]:
        """For environment.json."""
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def estimate(matrix: Matrix, pending: dict[str, int], starts: int, parallel: int,
             results_dir: Path) -> Estimate:
    """Estimate the sweep's remaining work: `pending` points by variant name, `starts` server
    starts, `parallel` variants at once."""
    first = matrix.variants[0].spec.server
    assert first is not None
    ready, point, source = _history(first.model, results_dir)
    on_gpu = any(v.spec.server is not None and v.spec.server.gpu_count for v in matrix.variants)
    if ready is None:
        ready = DEFAULT_READY_S[on_gpu]
    if point is None:
        point = DEFAULT_POINT_S
    if not source:
        source = (f"no earlier run of {first.model} in {results_dir}: assuming {ready:.0f} s per"
                  f" server start and {point:.0f} s per point")
    points = sum(pending.values())
    per_variant = {name: count * (point + POINT_OVERHEAD_S) for name, count in pending.items()}
    serial = starts * ready + sum(per_variant.values())
    wall = serial / max(1, min(parallel, len([c for c in pending.values() if c])))
    gpu_s = sum(
        (ready + per_variant.get(v.name, 0.0)) * (v.spec.server.total_gpus if v.spec.server else 0)
        for v in matrix.variants if pending.get(v.name)
    )
    return Estimate(len([c for c in pending.values() if c]), points, starts, parallel, ready,
                    point, wall, gpu_s / 3600, source)


def _history(model: str, results_dir: Path) -> tuple[float | None, float | None, str]:
    """Median ready time and point duration of earlier runs of `model` (None where none)."""
    if not results_dir.is_dir():
        return None, None, ""
    readies: list[float] = []
    durations: list[float] = []
    runs = 0
    for run in sorted((p for p in results_dir.iterdir() if p.is_dir()), reverse=True)[:HISTORY_RUNS]:
        server = read_config(run).get("server")
        if not isinstance(server, dict) or server.get("model") != model:
            continue
        try:
            readies += _ready_times(run)
            durations += [row["duration"] for row in read_rows(run)
                          if isinstance(row.get("duration"), int | float)]
        except (ConfigError, OSError, ValueError, AttributeError, TypeError, KeyError):
            continue  # a run that crashed early, or not one of ours
        runs += 1
    if not runs:
        return None, None, ""
    ready = statistics.median(readies) if readies else None
    point = statistics.median(durations) if durations else None
    return ready, point, f"from {runs} earlier run(s) of {model}"


def _ready_times(run: Path) -> list[float]:
    if (run / VARIANTS_FILE).is_file():
        return [v["ready_s"] for v in read_variants(run) if isinstance(v.get("ready_s"), int | float)]
    timings = json.loads((run / ENVIRONMENT_FILE).read_text(encoding="utf-8")).get("timings", {})
    return [timings["server_ready_s"]] if "server_ready_s" in timings else []


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
