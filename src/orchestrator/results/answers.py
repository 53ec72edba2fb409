"""What a sweep's rows answer: per point, the SLO attainment, tokens/s per user and per GPU, the
server's queueing (from its scraped /metrics) and the flags raised; per server variant and
workload, the capacity under the SLO and the knee; across variants, the best for each objective."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.analysis.capacity import Capacity, SeriesPoint, attainment, capacity, knee
from orchestrator.config.sweep import Point

METRICS_DIR = "metrics"  # in the run folder: metrics/<variant>/<point>.csv
METRICS_SUFFIX = ".metrics.csv"  # what bench_points.py writes beside each result in the client
SHORTFALL = 0.05  # mean output this far under the requested length is flagged
# Columns the answers add to each summary row.
ANSWER_COLUMNS = ("slo_attainment", "slo_met", "output_throughput_per_user",
                  "output_throughput_per_gpu", "max_running", "max_waiting",
                  "max_kv_cache_usage", "preemptions", "prefix_cache_hit_rate",
                  "metrics_scrapes", "flags")


def metrics_summary(path: Path) -> dict[str, Any]:
    """The peaks and increments of a point's scraped /metrics series (empty when none)."""
    try:
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return {}

    def column(name: str) -> list[float]:
        return [float(r[name]) for r in rows if r.get(name) not in (None, "")]

    def growth(name: str) -> float | None:
        values = column(name)
        return values[-1] - values[0] if len(values) > 1 else None

    running, waiting, kv = column("running"), column("waiting"), column("kv_cache_usage")
    queries, hits = growth("prefix_cache_queries"), growth("prefix_cache_hits")
    return {
        "max_running": max(running, default=None),
        "max_waiting": max(waiting, default=None),
        "max_kv_cache_usage": max(kv, default=None),
        "preemptions": growth("preemptions"),
        "prefix_cache_hit_rate": hits / queries if queries and hits is not None else None,
        "metrics_scrapes": len(rows),
    }


def answer_row(row: dict[str, Any], point: Point, metrics: dict[str, Any]) -> dict[str, Any]:
    """Add the answer columns to a point's summary row (in place; also returned)."""
    work = point.workload.workload
    server = point.variant.spec.server
    slo = work.slo
    has_slo = any(v is not None for v in (slo.ttft_ms, slo.tpot_ms, slo.e2el_ms))
    share = attainment(row.get("request_goodput"), row.get("duration"),
                       row.get("completed")) if has_slo else None
    row["slo_attainment"] = None if share is None else round(share, 4)
    row["slo_met"] = None if share is None else share >= slo.attainment
    throughput = row.get("output_throughput") or 0.0
    row["output_throughput_per_user"] = throughput / point.concurrency if throughput else None
    gpus = server.total_gpus if server else 0
    row["output_throughput_per_gpu"] = throughput / gpus if gpus and throughput else None
    row.update({k: metrics.get(k) for k in ANSWER_COLUMNS if k in metrics})
    flags = []
    seqs = server.max_num_seqs if server else None
    if (metrics.get("max_waiting") or 0) > 0 or (seqs is not None and point.concurrency > seqs):
        flags.append("hidden-queueing")
    completed = row.get("completed") or 0
    if (completed and work.dataset == "random"
            and (row.get("total_output_tokens") or 0) / completed < (1 - SHORTFALL) * work.output_len):
        flags.append("output-shortfall")
    if row.get("failed"):
        flags.append("failed-requests")
    row["flags"] = " ".join(flags)
    return row


@dataclass(frozen=True)
class SeriesAnswer:
    """One server variant with one workload, over concurrency."""

    variant: str
    workload: str
    settings: str
    capacity: Capacity | None
    knee: int | None
    best_throughput: float
    serve_flags: list[str]


def series_answers(rows: Iterable[dict[str, Any]], points: dict[str, Point]) -> list[SeriesAnswer]:
    """Capacity and knee for every (variant, workload) series of the rows; `points` maps each
    row's file to its point."""
    from orchestrator.plan.bench import server_argv

    series: dict[tuple[str, str], list[tuple[dict[str, Any], Point]]] = {}
    for row in rows:
        point = points[row["file"]]
        series.setdefault((point.variant.name, point.workload.name), []).append((row, point))
    answers = []
    for (variant, workload), members in series.items():
        point = members[0][1]
        share = point.workload.workload.slo.attainment
        by_conc: dict[int, list[dict[str, Any]]] = {}
        for row, p in members:
            by_conc.setdefault(p.concurrency, []).append(row)
        line = [SeriesPoint(c, _mean(rs, "output_throughput") or 0.0,
                            _mean(rs, "mean_e2el_ms") or _mean(rs, "mean_ttft_ms"),
                            _mean(rs, "slo_attainment"))
                for c, rs in sorted(by_conc.items())]
        settings = ", ".join(f"{k}={v}" for k, v in {**point.variant.settings,
                                                     **point.workload.settings}.items())
        answers.append(SeriesAnswer(variant, workload, settings, capacity(line, share), knee(line),
                                    max(p.throughput for p in line),
                                    server_argv(point.variant.spec)))
    return answers


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
    return sum(values) / len(values) if values else None
