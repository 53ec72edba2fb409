"""The end of a bench run on screen: its points as a table, then the answers (the best variant,
each series' capacity under the SLO), one line each."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from orchestrator.results.answers import SeriesAnswer, series_answers
from orchestrator.results.best import ReportData, best_points
from orchestrator.results.report_tables import fmt
from orchestrator.results.run_folder import RunFolder
from orchestrator.results.sweep_records import SweepRecords
from orchestrator.terminal import safe


def print_summary(folder: RunFolder, records: SweepRecords, console: Console) -> None:
    """The points as a table (goodput and flags when any), then the answers: the best variant
    and each series' capacity under the SLO, one line each."""
    rows = records.ordered_rows()
    table = Table(title=f"{folder.path}", title_justify="left")
    several = len(records.matrix.variants) > 1 or bool(records.matrix.swept["workload"])
    goodput = any(r.get("request_goodput") is not None for r in rows)
    flagged = any(r.get("flags") for r in rows)
    headers = (["variant", "settings"] if several else []) + [
        "conc", "req/s", "out tok/s", "steady tok/s", "TTFT ms", "p99 TTFT", "TPOT ms",
        "prefix hits", "failed"]
    replay = any(r.get("time_to_finish_s") is not None for r in rows)
    headers += (["finish s", "conv/s"] if replay else [])
    headers += (["goodput", "SLO met"] if goodput else []) + (["flags"] if flagged else [])
    for header in headers:
        table.add_column(header, no_wrap=True,
                         justify="left" if header in ("variant", "settings", "flags") else "right")
    for r in rows:
        settings = ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in r.items()
                             if k.startswith(("server.", "workload.")))
        cells = [f"{r['variant']} {r['workload']}", safe(settings)] if several else []
        hits = r.get("prefix_cache_hit_rate")
        rate = r.get("probe_rate")
        cells += [str(r["concurrency"]) + (f" at {rate:g}/s" if rate is not None else ""),
                  fmt(r["request_throughput"]),
                  fmt(r["output_throughput"]), fmt(r.get("steady_output_throughput")),
                  fmt(r["mean_ttft_ms"]), fmt(r["p99_ttft_ms"]), fmt(r["mean_tpot_ms"]),
                  "-" if hits is None else f"{hits:.1%}", str(r["failed"])]
        if replay:
            cells += [fmt(r.get("time_to_finish_s")), fmt(r.get("conversations_per_s"))]
        if goodput:
            met = r.get("slo_met")
            cells += [fmt(r.get("request_goodput")), "-" if met is None else "yes" if met else "no"]
        if flagged:
            cells.append(r.get("flags") or "")
        table.add_row(*cells)
    console.print(table)
    points = {f"raw/{key}": p for key, p in records.points.items()}
    answers = series_answers(rows, points)
    best = next((b for b in best_points(_report_data(folder, records, rows, answers))
                 if b.row is not None), None)
    if best is not None and best.row is not None and best.value is not None and several:
        weak = f"; weakened by {' '.join(best.weak)}" if best.weak else ""
        console.print(f"best ({best.objective}): {best.row['variant']} {best.row['workload']} at"
                      f" concurrency {best.row['concurrency']}, {best.value.text()} out tok/s:"
                      f" {best.verdict}{weak}", highlight=False)
    for answer in answers:
        if answer.capacity is not None:
            knee = f", knee at concurrency {answer.knee.concurrency}" if answer.knee else ""
            spread = (f" (95% interval {answer.capacity_interval.text(1)})"
                      if answer.capacity_interval and answer.capacity_interval.half is not None
                      else " (one run: no interval yet)")
            console.print(f"capacity under the SLO: {answer.variant} {answer.workload}"
                          f" {answer.capacity.text()} concurrent requests{spread}{knee}",
                          highlight=False)
    if (folder.path / "report.html").is_file():
        console.print(f"report: {safe(folder.path / 'report.html')}", highlight=False)


def _report_data(folder: RunFolder, records: SweepRecords, rows: list[dict[str, Any]],
                 answers: list[SeriesAnswer]) -> ReportData:
    server = records.matrix.variants[0].spec.server
    return ReportData(f"bench run {folder.path.name}", rows, answers,
                      [asdict(v) for v in records.variants.values()],
                      server.total_gpus if server else 0)

