"""A sweep's records in its run folder: variants.json (each server variant's settings, start
and fate), sweep.json (the matrix, to resume it) and the summary rows with their settings."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config.sweep_matrix import Matrix, Point
from orchestrator.errors import ConfigError
from orchestrator.results.answers import (
    ANSWER_COLUMNS,
    METRICS_DIR,
    answer_row,
    metrics_summary,
)
from orchestrator.results.bench_records import parse_result, write_rows
from orchestrator.results.run_folder import VARIANTS_FILE, RunFolder

MATRIX_FILE = "sweep.json"
# Beside a point's result in raw/: the server was lost while it ran (what became of it).
LOST_SUFFIX = ".server-lost"


def mark_server_lost(result: Path, lost: str | None) -> None:
    """Say beside a point's result that the server was lost while it ran (`lost`: what became
    of it), or, with None, that it was not (a point measured again)."""
    marker = result.with_name(result.name + LOST_SUFFIX)
    if lost is None:
        marker.unlink(missing_ok=True)
    else:
        marker.write_text(lost + "\n", encoding="utf-8")


def server_lost(result: Path) -> bool:
    """Whether the server was lost while the point of this result ran."""
    return result.with_name(result.name + LOST_SUFFIX).exists()


@dataclass
class VariantRecord:
    """One server variant, as variants.json keeps it."""

    name: str
    settings: dict[str, Any]
    points: int
    status: str = "pending"  # pending, running, done, skipped (resumed), failed: WHY
    server: str = ""  # started, kept (the previous variant's server was the same), external
    # A server the tool did not start (client.server_url): what it said of itself
    # (stacks/endpoint.py), and the config's server fields that were not applied to it.
    endpoint: dict[str, Any] | None = None
    ready_s: float | None = None
    # From vLLM's log: compiled, loaded from cache, none (eager), unknown; kept (no start).
    compile_cache: str = ""
    startup: dict[str, Any] | None = None  # analysis.server_start.ServerStart, as JSON
    # The fit check's prediction per GPU and, after its start, vLLM's own KV cache size.
    fit: dict[str, Any] | None = None
    gpu_ids: list[int] | None = None
    slot: int = 0
    points_measured: int = 0
    started_at: float | None = None  # Unix time of its server start (or of taking a kept one)
    ended_at: float | None = None  # Unix time its last point came home (or it failed)
    # Seconds from its first point's start in the bench tool to its last point home: the
    # time spent measuring (the server's start and the warm-up not counted).
    measuring_s: float | None = None
    # The cold requests sent before its first point (workload.warmup_prompts), measured apart:
    # requests, completed, failed, duration, TTFT/TPOT/E2EL, and wall_s (in the bench tool).
    warmup: dict[str, Any] | None = None
    # A capacity search's probes and answer, by workload variant (analysis/search.py).
    search: dict[str, Any] | None = None
    skipped: list[str] = field(default_factory=list)  # a grid's points skipped as saturated
    saved_s: float | None = None  # the time those would have taken, estimated


@dataclass
class SweepRecords:
    """Everything a sweep writes besides the raw files, rewritten whenever it changes."""

    folder: RunFolder
    matrix: Matrix
    variants: dict[str, VariantRecord] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # by point key
    points: dict[str, Point] = field(default_factory=dict)  # by key: the matrix's and probes

    def ordered_rows(self) -> list[dict[str, Any]]:
        """The rows in the matrix's order, then a search's probes by variant, workload and
        value."""
        order = [p.key for p in self.matrix.all_points]
        known = set(order)
        extra = sorted((p for key, p in self.points.items() if key not in known),
                       key=lambda p: (p.variant.index, p.workload.index, p.rate or 0.0,
                                      p.concurrency))
        return [self.rows[key] for key in [*order, *(p.key for p in extra)] if key in self.rows]

    @classmethod
    def start(cls, folder: RunFolder, matrix: Matrix,
              fits: dict[str, dict[str, Any] | None] | None = None) -> SweepRecords:
        """The records of a new sweep, or of a resumed one (its finished points read back, but
        not those measured while the server was lost: they are measured again); `fits`: each
        variant's fit record, by name."""
        records = cls(folder, matrix)
        for variant in matrix.variants:
            records.variants[variant.name] = VariantRecord(
                variant.name, variant.settings, len(matrix.points(variant)),
                fit=(fits or {}).get(variant.name))
        for point in matrix.all_points:
            path = folder.raw / point.variant.name / point.name
            if path.is_file() and not server_lost(path):
                records.add(point, path)
        records.write()
        folder.write_json(MATRIX_FILE, matrix.as_json())
        return records

    def done(self, point: Point) -> bool:
        """Whether the point's result is home."""
        return point.key in self.rows

    def add(self, point: Point, path: Path) -> dict[str, Any]:
        """Read a point's result file into its summary row (raises ResultFormatError from
        results.bench_records)."""
        record = parse_result(path)
        row = {"variant": point.variant.name, "workload": point.workload.name,
               "repeat": point.repeat}
        row.update({f"server.{k}": v for k, v in point.variant.settings.items()})
        row.update({f"workload.{k}": v for k, v in point.workload.settings.items()})
        row.update(record)
        row["concurrency"] = point.concurrency
        if point.rate is not None:  # a request-rate search's probe (its rate, at most c in flight)
            row["probe_rate"] = point.rate
        row["file"] = f"raw/{point.variant.name}/{point.name}"
        series = (self.folder.path / METRICS_DIR / point.variant.name
                  / point.name.replace(".json", ".csv"))
        answer_row(row, point, metrics_summary(series, row),
                   self.variants[point.variant.name].fit)
        if server_lost(path):
            row["flags"] = " ".join([*str(row["flags"]).split(), "server-lost"])
        self.rows[point.key] = row
        self.points[point.key] = point
        return row

    def write(self) -> None:
        """Rewrite variants.json and summary.csv/json, in the matrix's order."""
        self.folder.write_json(VARIANTS_FILE, [asdict(v) for v in self.variants.values()])
        rows = self.ordered_rows()
        front = ["variant", "workload", "repeat",
                 *(f"server.{k}" for k in self.matrix.swept["server"]),
                 *(f"workload.{k}" for k in self.matrix.swept["workload"]),
                 *(["probe_rate"] if any("probe_rate" in r for r in rows) else [])]
        write_rows(self.folder, rows, front, ANSWER_COLUMNS)


def check_resumable(folder: RunFolder, matrix: Matrix) -> None:
    """Refuse to resume a run whose stored matrix differs from the one its config makes now."""
    path = folder.path / MATRIX_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"--resume {folder.path}: no readable {MATRIX_FILE} (not a bench run"
                          " of this orchestrator)") from None
    if matrix.search is not None:
        raise ConfigError(f"--resume {folder.path}: a capacity search (sweep.search) is not"
                          " resumed (its probes follow from each other); start it anew")
    if stored.get("points") != matrix.as_json()["points"]:
        raise ConfigError(f"--resume {folder.path}: its config now makes a different matrix"
                          f" than {MATRIX_FILE} records; start a new run instead")

