"""The report's tables: the best variant for each objective and how sure it is, capacity under
the SLO with its interval and knee, every point (with its prefix-cache hit rate, steady-window
figures and flags), intervals over repeats, cold against warm, server starts, and the flags
with what each means."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.results.answers import CONFIDENCE_METRICS, SeriesAnswer
from orchestrator.results.best import ReportData, best_points

Tables = list[tuple[str, list[str], list[list[str]]]]  # (title, headers, rows)

# What each flag means, next to the answers it weakens (README, "Sweeps").
FLAG_MEANINGS = {
    "cold": "the first requests of a just-started server, no warm-up: compilation and caches"
            " in its latency",
    "not-steady": "the point never held its concurrency for most of a steady window (too few"
                  " prompts, or the server ran fewer): its figures are ramp-up and tail",
    "prefix-cache-hits": "over 5% of its prompt tokens came from the prefix cache: prefill was"
                         " not measured",
    "metrics-gap": "the /metrics series lacks a sample before its first or after its last"
                   " request: its peaks and hit rate may miss part of it",
    "hidden-queueing": "requests waited in the server's queue (or concurrency exceeds"
                       " max_num_seqs): latency includes queueing",
    "output-shortfall": "outputs ended early (under 95% of output_len): less decode than asked",
    "failed-requests": "some requests failed: never picked as best",
    "implausible": "a figure beats what the GPU can physically do (its memory bandwidth and"
                   " FLOPs): a measurement error, not a result; never picked as best",
    "server-lost": "the server lost a pod (container, process) or restarted while the point"
                   " ran: it measured the loss, not the server; never picked as best, measured"
                   " again by a resume",
}


def fmt(value: Any, digits: int = 2) -> str:
    """A cell: `-` for nothing, yes/no, numbers with thousands separators."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def tables(data: ReportData) -> Tables:
    """(title, headers, rows) for every table of the report."""
    points = [[f"{r['variant']} {r['workload']}", _settings(r), str(r["concurrency"]),
               str(r.get("repeat") or 0), fmt(r.get("output_throughput")),
               fmt(r.get("steady_output_throughput")), fmt(r.get("p50_ttft_ms")),
               fmt(r.get("p99_ttft_ms")), fmt(r.get("steady_mean_ttft_ms")),
               fmt(r.get("p50_tpot_ms")), fmt(r.get("p99_e2el_ms")),
               fmt(r.get("request_goodput")), fmt(r.get("slo_met")),
               _percent(r.get("prefix_cache_hit_rate")), fmt(r.get("steady_requests"), 0),
               fmt(r.get("max_waiting"), 0), fmt(r.get("bound_output_tok_s"), 0),
               _percent(r.get("efficiency")), r.get("flags") or "-"] for r in data.rows]
    best = [[b.objective,
             f"{b.row['variant']} {b.row['workload']} c{b.row['concurrency']}" if b.row else "-",
             b.value.text() if b.value else "-", b.verdict or "-",
             " ".join(b.weak) or "-", " ".join(b.flags) if b.row else "no point qualifies"]
            for b in best_points(data)]
    capacity = []
    for answer in data.answers:
        at = _at_capacity(data.rows, answer)
        capacity.append([f"{answer.variant} {answer.workload}", answer.settings or "-",
                         answer.capacity.text() if answer.capacity else "no SLO set",
                         _capacity_confidence(answer),
                         f"{answer.knee.concurrency}: {answer.knee.reason}" if answer.knee
                         else "-",
                         fmt(at.get("request_throughput", 0) * 3600, 0) if at else "-",
                         fmt(at.get("output_throughput", 0) * 3600, 0) if at else "-",
                         " ".join(answer.flags) or "-"])
    rates = _rate_capacity(data.rows)
    if rates:
        capacity += [[f"{variant} (all rates)", "highest workload.request_rate within the SLO",
                      rate, "-", "-", "-", "-", "-"] for variant, rate in rates.items()]
    starts = [[v["name"], json.dumps(v["settings"]), v.get("server") or "-",
               v.get("compile_cache") or "-", fmt(v.get("ready_s"), 1),
               *[fmt((v.get("startup") or {}).get(k), 1) for k in (
                   "weights_s", "compile_s", "graph_capture_s", "engine_init_s", "other_s")],
               *_kv_cache(v.get("fit")), v.get("status", "-")] for v in data.variants
              if not v.get("endpoint")]
    raised = sorted({f for r in data.rows for f in (r.get("flags") or "").split()})
    flagged = [[flag, FLAG_MEANINGS.get(flag, "-"),
                ", ".join(f"{r['variant']} {r['workload']} c{r['concurrency']}"
                          + (f" r{r['repeat']}" if r.get("repeat") else "")
                          for r in data.rows if flag in (r.get("flags") or "").split())]
               for flag in raised]
    return [
        ("Best variant for each objective", ["objective", "point", "figure (95% interval)",
                                             "confidence", "weakened by", "server command"], best),
        *_conversations(data),
        *_search(data),
        ("Capacity under the SLO", ["series", "settings", "capacity (concurrency)",
                                    "capacity 95% interval", "knee", "requests/hour",
                                    "output tokens/hour", "flags on its points"], capacity),
        *_confidence(data),
        ("Points", ["series", "settings", "conc", "repeat", "out tok/s", "steady out tok/s",
                    "p50 TTFT", "p99 TTFT", "steady TTFT", "p50 TPOT", "p99 E2E", "goodput",
                    "SLO met", "prefix hits", "steady req", "max waiting", "bound tok/s",
                    "efficiency", "flags"], points),
        *_cold_start(data),
        *_external(data),
        *([("Server starts (from the engine's log)", ["variant", "settings", "server", "compile",
                                                "ready s", "weights s", "compile s", "graphs s",
                                                "engine init s", "other s", "GPU",
                                                "KV tokens (vLLM)", "KV predicted", "error",
                                                "status"], starts)] if starts else []),
        ("Flags raised", ["flag", "what it weakens", "points"], flagged or [["-", "none", "-"]]),
    ]


def _kv_cache(fit: dict[str, Any] | None) -> list[str]:
    """A start's GPU, vLLM's KV cache size, the fit check's prediction and its error; on a
    CPU, or where the model's files were not here, none (the hardware's bound is unknown)."""
    if not fit:
        return ["unknown (CPU or not estimated)", "-", "-", "-"]
    error = fit.get("kv_cache_error_pct")
    return [str(fit.get("gpu") or "-"), fmt(fit.get("measured_kv_cache_tokens"), 0),
            fmt(fit.get("kv_cache_tokens"), 0), f"{error:+.1f}%" if error is not None else "-"]


def _percent(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.1%}"


def _capacity_confidence(answer: SeriesAnswer) -> str:
    if answer.capacity is None:
        return "-"
    if answer.capacity_interval is not None and answer.capacity_interval.half is not None:
        return f"{answer.capacity_interval.text(1)} over {answer.capacity_interval.n} repeats"
    return "none yet (one run; set sweep.repeats)" if answer.repeats < 2 else "-"


def _confidence(data: ReportData) -> Tables:
    """Points measured more than once: each figure's mean ± 95% half-width, and the CV of
    throughput."""
    rows = []
    for answer in data.answers:
        for conc, stats in answer.stats.items():
            throughput = stats.get("output_throughput")
            if throughput is None or throughput.n < 2:
                continue
            rows.append([f"{answer.variant} {answer.workload}", str(conc), str(throughput.n),
                         *[stats[m].text() if m in stats else "-" for m in CONFIDENCE_METRICS],
                         _percent(throughput.cv)])
    if not rows:
        return []
    return [("Repeats: mean ± 95% interval", ["series", "conc", "runs", "out tok/s", "goodput",
                                               "p50 TTFT", "p99 TTFT", "p50 TPOT", "p99 TPOT",
                                               "p50 E2E", "p99 E2E", "CV out tok/s"], rows)]


def _conversations(data: ReportData) -> Tables:
    replays = [r for r in data.rows if r.get("time_to_finish_s") is not None]
    if not replays:
        return []
    fastest = max(replays, key=lambda r: r.get("conversations_per_s") or 0)
    return [("Conversations: time to finish them all", [
        "series", "conc", "conversations", "time to finish s", "conversations/s",
        "turns completed", "failed", "mean TTFT ms", "mean TPOT ms", "prefix hits", ""], [
        [f"{r['variant']} {r['workload']}", str(r["concurrency"]),
         f"{r.get('conversations_completed', '-')}/{r.get('conversations', '-')}",
         fmt(r["time_to_finish_s"]), fmt(r.get("conversations_per_s"), 3),
         str(r.get("completed")), str(r.get("failed")), fmt(r.get("mean_ttft_ms")),
         fmt(r.get("mean_tpot_ms")), _percent(r.get("prefix_cache_hit_rate")),
         "fastest" if r is fastest else ""]
        for r in replays])]


def _search(data: ReportData) -> Tables:
    """A capacity search's answer per variant and workload (its bracket and why it stopped,
    the probes in the order run), and a grid's points skipped as saturated."""
    found, skipped = [], []
    for variant in data.variants:
        for work, answer in (variant.get("search") or {}).items():
            unit = "" if answer.get("over") == "concurrency" else " req/s"
            probes = ", ".join(f"{p['value']:g}{unit} {'pass' if p['passed'] else 'fail'}"
                               for p in answer.get("probes") or [])
            capacity = answer.get("capacity")
            above = answer.get("above")
            found.append([f"{variant['name']} {work}", answer.get("over", "-"),
                          "none" if capacity is None else f"{capacity:g}{unit}",
                          "-" if above is None else f"{above:g}{unit}",
                          str(len(answer.get("probes") or [])), probes,
                          "; ".join([answer.get("stopped", "-"), *(answer.get("notes") or [])])])
        if variant.get("skipped"):
            skipped.append([variant["name"], ", ".join(variant["skipped"]),
                            fmt(variant.get("saved_s"), 0)])
    tables: Tables = []
    if found:
        tables.append(("Capacity search (highest pass, lowest failure above it)", [
            "series", "over", "capacity", "first failure above", "probes", "probes in order",
            "why it stopped"], found))
    if skipped:
        tables.append(("Points skipped: saturated and failing the SLO", [
            "variant", "points", "time saved s (estimated)"], skipped))
    return tables


def _external(data: ReportData) -> Tables:
    """A server the tool did not start: what it said of itself, and what is unknown of it."""
    rows = [[v["name"], str(e.get("url")), str(e.get("model")), fmt(e.get("max_model_len"), 0),
             str(e.get("version") or "unknown"), "scraped" if e.get("metrics") else "not answered",
             ", ".join(e.get("not_applied") or []) or "-", v.get("status", "-")]
            for v in data.variants if (e := v.get("endpoint"))]
    return [("Server not started by this tool (its settings, GPUs and start-up are unknown)", [
        "variant", "address", "model", "max length", "version", "/metrics",
        "config fields not applied", "status"], rows)] if rows else []


def _cold_start(data: ReportData) -> Tables:
    cold = _cold_vs_warm(data)
    return [("Cold start: the warm-up against the first warm point", [
        "variant", "warm-up requests", "cold mean TTFT ms", "cold p99 TTFT ms",
        "warm mean TTFT ms (first point)", "cold / warm", "warm-up s"], cold)] if cold else []


def _cold_vs_warm(data: ReportData) -> list[list[str]]:
    """Per variant with a warm-up (workload.warmup_prompts): its cold TTFT beside the TTFT of
    the variant's first point, measured right after on the now warm server."""
    rows = []
    for variant in data.variants:
        warmup = variant.get("warmup")
        if not warmup or variant.get("endpoint"):  # a server already running: not its cold start
            continue
        first = next((r for r in data.rows if r["variant"] == variant["name"]), None)
        cold, warm = warmup.get("mean_ttft_ms"), first.get("mean_ttft_ms") if first else None
        rows.append([variant["name"], str(warmup.get("requests")), fmt(cold),
                     fmt(warmup.get("p99_ttft_ms")), fmt(warm),
                     f"{cold / warm:.1f}x" if cold and warm else "-",
                     fmt(warmup.get("duration"))])
    return rows


def _rate_capacity(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Where workload.request_rate is swept: per variant, the highest rate with a point that
    meets the SLO ("none" when no rate does)."""
    out: dict[str, str] = {}
    for row in rows:
        rate = row.get("workload.request_rate")
        if rate is None or row.get("slo_met") is None:
            continue
        best = out.get(row["variant"], "none")
        if row["slo_met"]:
            value = float("inf") if rate == "inf" else float(rate)
            known = float("inf") if best == "inf" else (float(best) if best != "none" else -1.0)
            if value > known:
                best = "inf" if value == float("inf") else f"{value:g}"
        out[row["variant"]] = best
    return {variant: f"{rate} req/s" if rate != "none" else "none" for variant, rate in out.items()}


def _settings(row: dict[str, Any]) -> str:
    return ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in row.items()
                     if k.startswith(("server.", "workload."))) or "-"


def _at_capacity(rows: list[dict[str, Any]], answer: SeriesAnswer) -> dict[str, Any] | None:
    """The measured point at or just under the series' capacity (what can be promised)."""
    if answer.capacity is None or answer.capacity.how == "none":
        return None
    members = [r for r in rows if r["variant"] == answer.variant
               and r["workload"] == answer.workload and r["concurrency"] <= answer.capacity.concurrency]
    return max(members, key=lambda r: r["concurrency"]) if members else None


