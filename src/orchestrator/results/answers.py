"""What a sweep's rows answer: per point, the SLO attainment, tokens/s per user and per GPU, the
server's queueing (from its scraped /metrics) and the flags raised; per server variant and
workload, the capacity under the SLO and the knee; across variants, the best for each objective."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.analysis.bound import efficiency, point_bound
from orchestrator.analysis.capacity import Capacity, Knee, SeriesPoint, attainment, capacity, knee
from orchestrator.analysis.confidence import Interval, interval
from orchestrator.config.model import StackSpec
from orchestrator.config.sweep_matrix import Point

METRICS_DIR = "metrics"  # in the run folder: metrics/<variant>/<point>.csv
METRICS_SUFFIX = ".metrics.csv"  # what bench_points.py writes beside each result in the client
SHORTFALL = 0.05  # mean output this far under the requested length is flagged
MAX_HIT_RATE = 0.05  # prefix-cache hits beyond this share of a fresh-prompt point's are flagged
STEADY_SHARE = 0.5  # the server must run the point's concurrency this share of its steady window
MIN_WINDOW_SAMPLES = 2  # /metrics samples in the steady window needed to judge it
# Columns the answers add to each summary row.
ANSWER_COLUMNS = ("slo_attainment", "slo_met", "output_throughput_per_user",
                  "output_throughput_per_gpu", "max_running", "max_waiting",
                  "max_kv_cache_usage", "preemptions", "prefix_cache_hit_rate",
                  "metrics_scrapes", "metrics_coverage", "bound_output_tok_s", "efficiency",
                  "flags")


def metrics_summary(path: Path, row: dict[str, Any] | None = None) -> dict[str, Any]:
    """The peaks and increments of a point's scraped /metrics series (empty when none), and,
    with the point's row (its request and steady-window clocks), whether the series covers the
    point and how full the server ran in its steady window."""
    try:
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return {}
    row = row or {}

    def column(name: str, within: list[dict[str, str]] = rows) -> list[float]:
        return [float(r[name]) for r in within if r.get(name) not in (None, "")]

    def growth(name: str) -> float | None:
        values = column(name)
        return values[-1] - values[0] if len(values) > 1 else None

    running, waiting, kv = column("running"), column("waiting"), column("kv_cache_usage")
    queries, hits = growth("prefix_cache_queries"), growth("prefix_cache_hits")
    window = row.get("steady_clock_s")
    inside = [r for r in rows if window and r.get("clock_s")
              and window[0] <= float(r["clock_s"]) <= window[1]]
    return {
        "max_running": max(running, default=None),
        "max_waiting": max(waiting, default=None),
        "steady_max_waiting": max(column("waiting", inside), default=None) if inside else None,
        "steady_running": column("running", inside) if len(inside) >= MIN_WINDOW_SAMPLES else None,
        "max_kv_cache_usage": max(kv, default=None),
        "preemptions": growth("preemptions"),
        "prefix_cache_hit_rate": hits / queries if queries and hits is not None else None,
        "metrics_scrapes": len(rows),
        "metrics_coverage": coverage(rows, row.get("requests_clock_s")),
    }


def coverage(rows: list[dict[str, str]], requests: list[float] | None) -> str:
    """`full` when a sample precedes the point's first request and one follows its last;
    else what is missing. Series of an older bench_points.py (no phases) say `unknown`."""
    if not rows:
        return "no samples"
    if "phase" not in rows[0]:
        return "unknown"
    before = [float(r["clock_s"]) for r in rows if r["phase"] == "before"]
    after = [float(r["clock_s"]) for r in rows if r["phase"] == "after"]
    first, last = (requests[0], requests[1]) if requests else (None, None)
    missing = []
    if not before or (first is not None and before[0] > first):
        missing.append("no sample before the first request")
    if not after or (last is not None and after[-1] < last):
        missing.append("no sample after the last request")
    return "; ".join(missing) or "full"


def answer_row(row: dict[str, Any], point: Point, metrics: dict[str, Any],
               fit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add the answer columns to a point's summary row (in place; also returned); `fit` is
    its variant's fit record (variants.json), for the hardware's bound."""
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
    seqs = server.max_num_seqs if server else None
    completed = int(row.get("completed") or 0)
    mean_out = (row.get("total_output_tokens") or 0) / completed if completed else 0.0
    mean_in = (row.get("total_input_tokens") or 0) / completed if completed else 0.0
    bound = point_bound(fit, point.concurrency, mean_in, mean_out, completed)
    share, implausible = efficiency(row, bound)
    row["bound_output_tok_s"] = round(bound.output_tok_s, 1) if bound else None
    row["efficiency"] = round(share, 4) if share is not None else None
    flags = point_flags(row, point, metrics, seqs)
    row["flags"] = " ".join([*flags, "implausible"] if implausible else flags)
    return row


def point_flags(row: dict[str, Any], point: Point, metrics: dict[str, Any],
                max_num_seqs: int | None) -> list[str]:
    """What weakens a point's figures (README, "Sweeps": reading the flags)."""
    work = point.workload.workload
    flags = []
    waiting = metrics.get("steady_max_waiting")  # queueing in the steady window, not the ramp
    if waiting is None:
        waiting = metrics.get("max_waiting")
    if (waiting or 0) > 0 or (max_num_seqs is not None and point.concurrency > max_num_seqs):
        flags.append("hidden-queueing")
    completed = row.get("completed") or 0
    if (completed and work.dataset == "random"
            and (row.get("total_output_tokens") or 0) / completed < (1 - SHORTFALL) * work.output_len):
        flags.append("output-shortfall")
    if row.get("failed"):
        flags.append("failed-requests")
    hit_rate = metrics.get("prefix_cache_hit_rate")
    if work.dataset != "conversations" and hit_rate is not None and hit_rate > MAX_HIT_RATE:
        flags.append("prefix-cache-hits")
    if _not_steady(row, point, metrics, max_num_seqs):
        flags.append("not-steady")
    if str(row.get("cold") or "") == "1":
        flags.append("cold")
    if metrics.get("metrics_coverage") not in (None, "full", "unknown"):
        flags.append("metrics-gap")
    return flags


def _not_steady(row: dict[str, Any], point: Point, metrics: dict[str, Any],
                max_num_seqs: int | None) -> bool:
    """No steady window, one shorter than a request per slot, or a server that ran fewer than
    min(concurrency, max_num_seqs) requests for most of it (closed-loop points only: at a set
    request rate the server may rightly run fewer)."""
    if "steady_requests" not in row:  # no per-request times (a replay, an older run)
        return False
    if not row.get("steady_requests") or row["steady_requests"] < point.concurrency:
        return True
    running = metrics.get("steady_running")
    if running and point.workload.workload.request_rate == "inf":
        target = min(point.concurrency, max_num_seqs or point.concurrency)
        return sum(1 for r in running if r >= target) < STEADY_SHARE * len(running)
    return False


# Figures given a 95% interval over a point's repeats (README, "Sweeps").
CONFIDENCE_METRICS = ("output_throughput", "request_goodput", "p50_ttft_ms", "p99_ttft_ms",
                      "p50_tpot_ms", "p99_tpot_ms", "p50_e2el_ms", "p99_e2el_ms")


@dataclass(frozen=True)
class SeriesAnswer:
    """One server variant with one workload, over concurrency."""

    variant: str
    workload: str
    settings: str
    capacity: Capacity | None
    knee: Knee | None
    best_throughput: float
    serve_flags: list[str]
    # Per concurrency: each CONFIDENCE_METRICS figure over the point's repeats.
    stats: dict[int, dict[str, Interval]] = field(default_factory=dict)
    capacity_interval: Interval | None = None  # over the repeats' own capacities
    repeats: int = 1
    flags: list[str] = field(default_factory=list)  # raised on any of its points


def series_answers(rows: Iterable[dict[str, Any]], points: dict[str, Point]) -> list[SeriesAnswer]:
    """Capacity, knee and intervals for every (variant, workload) series of the rows; `points`
    maps each row's file to its point."""
    series: dict[tuple[str, str], list[tuple[dict[str, Any], Point]]] = {}
    for row in rows:
        point = points[row["file"]]
        if point.rate is not None:  # a rate search's probes: answered by the search itself
            continue
        series.setdefault((point.variant.name, point.workload.name), []).append((row, point))
    answers = []
    for (variant, workload), members in series.items():
        point = members[0][1]
        share = point.workload.workload.slo.attainment
        by_conc: dict[int, list[dict[str, Any]]] = {}
        by_repeat: dict[int, dict[int, list[dict[str, Any]]]] = {}
        for row, p in members:
            by_conc.setdefault(p.concurrency, []).append(row)
            by_repeat.setdefault(p.repeat, {}).setdefault(p.concurrency, []).append(row)
        line = _line(by_conc)
        stats = {c: {m: i for m in CONFIDENCE_METRICS
                     if (i := interval([r[m] for r in rs if isinstance(r.get(m), int | float)]))}
                 for c, rs in sorted(by_conc.items())}
        capacities = [c.concurrency for runs in by_repeat.values()
                      if (c := capacity(_line(runs), share)) is not None]
        settings = ", ".join(f"{k}={v}" for k, v in {**point.variant.settings,
                                                     **point.workload.settings}.items())
        flags = sorted({f for row, _ in members for f in (row.get("flags") or "").split()})
        answers.append(SeriesAnswer(
            variant, workload, settings, capacity(line, share), knee(line),
            max(p.throughput for p in line), _reproduce(point.variant.spec), stats,
            # Repeats of the whole series only (a search's second run of one probe is not).
            interval(capacities) if len(by_repeat) > 1 and len(capacities) == len(by_repeat)
            and len({frozenset(runs) for runs in by_repeat.values()}) == 1 else None,
            max(len(rs) for rs in by_conc.values()), flags))
    return answers


def _reproduce(spec: StackSpec) -> list[str]:
    """What serves a series' best point again: the `vllm serve` command, or for a server the
    tool did not start, its address (its settings are unknown)."""
    from orchestrator.plan.bench import server_argv  # the plan imports the results' layout

    url = spec.client.server_url
    if url:
        return [f"the server at {url} (not started by this tool: its settings unknown)"]
    return server_argv(spec)


def _line(by_conc: dict[int, list[dict[str, Any]]]) -> list[SeriesPoint]:
    return [SeriesPoint(c, _mean(rs, "output_throughput") or 0.0,
                        _mean(rs, "mean_e2el_ms") or _mean(rs, "mean_ttft_ms"),
                        _mean(rs, "slo_attainment"))
            for c, rs in sorted(by_conc.items())]


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
    return sum(values) / len(values) if values else None
