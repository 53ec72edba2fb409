"""Commands that read finished runs: their report, and comparing two of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli.app import app, out

RunArg = Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                        help="A bench run folder (results_dir/RUN-ID).")]


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator compare bench_results/RUN_A bench_results/RUN_B\n\n"
    "  orchestrator compare A B --metric output_throughput --max-regression 5%   # exit 1 on a"
    " regression\n\n"
    "Exit codes: 0 no significant regression beyond the threshold, 1 a significant regression,"
    " 2 the runs share no point.",
)
def compare(
    run_a: RunArg,
    run_b: RunArg,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="A summary column to compare (repeatable).  [dim][default:"
        " output_throughput, mean_ttft_ms, mean_tpot_ms][/dim]", show_default=False)] = None,
    max_regression: Annotated[str, typer.Option(
        "--max-regression", help="How much worse a point may get: 5% or 0.05 (latencies up,"
        " throughputs down).")] = "5%",
) -> None:
    """Matching points of two runs side by side (same settings and concurrency, repeats pooled),
    with each metric's change and whether it stands out of the noise (Mann-Whitney U on the
    per-request latencies, Welch's t over repeats, a bootstrap interval on throughput); fails
    only when a significant change is worse than --max-regression."""
    from orchestrator.analysis.compare import DEFAULT_METRICS
    from orchestrator.analysis.compare import compare as compare_rows
    from orchestrator.errors import NothingToCompare, Regression
    from orchestrator.results.bench_records import COLUMNS
    from orchestrator.results.run_folder import raw_requests, read_rows

    threshold = _share(max_regression)
    metrics = tuple(metric or DEFAULT_METRICS)
    unknown = [m for m in metrics if m not in COLUMNS or m in ("concurrency", "num_prompts")]
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r} is not a summary metric; use one of"
                                 f" {', '.join(c for c in COLUMNS if c != 'concurrency')}",
                                 param_hint="--metric")
    result = compare_rows(read_rows(run_a), read_rows(run_b), metrics, raw_requests(run_a),
                          raw_requests(run_b))
    if not result.matched:
        raise NothingToCompare(f"{run_a} and {run_b} share no point (same server and workload"
                               " settings and concurrency); nothing to compare")
    table = Table(title=f"{run_a.name} -> {run_b.name}", title_justify="left")
    for header in ("point", "metric", "before", "after", "change", "significance (95%)"):
        table.add_column(header, justify="left" if header in ("point", "metric") else "right")
    for change in result.changes:
        style = "red" if change.worse > threshold and change.significant else ""
        table.add_row(change.point, change.metric, f"{change.before:,.2f}", f"{change.after:,.2f}",
                      f"[{style}]{change.delta:+.1%}[/{style}]" if style else f"{change.delta:+.1%}",
                      change.evidence() + ("" if change.significant else ": noise"))
    console = out()
    console.print(table)
    if result.only_a or result.only_b:
        console.print(f"{result.matched} point(s) matched; {result.only_a} only in {run_a.name},"
                      f" {result.only_b} only in {run_b.name}")
    regressions = result.regressions(threshold)
    if regressions:
        worst = max(regressions, key=lambda c: c.worse)
        raise Regression(f"{len(regressions)} significant regression(s) beyond {max_regression}:"
                         f" {worst.point} {worst.metric} {worst.before:g} -> {worst.after:g}"
                         f" ({worst.delta:+.1%}, {worst.evidence()})")
    beyond = [c for c in result.changes if c.worse > threshold]
    console.print(f"no significant change beyond {max_regression}"
                  + (f" ({len(beyond)} change(s) beyond it are within noise)" if beyond else ""))


def _share(text: str) -> float:
    """5% or 0.05 as a share."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a share; write 5% or 0.05",
                                 param_hint="--max-regression") from None
    if not 0 <= value < 10 or value != value:
        raise typer.BadParameter(f"{text!r}: give a share from 0% up", param_hint="--max-regression")
    return value


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator report bench_results/RUN            # rebuild RUN/report.md and report.html\n\n"
    "  orchestrator report RUN_A RUN_B -o both/          # one report over several runs",
)
def report(
    runs: Annotated[list[Path], typer.Argument(exists=True, file_okay=False,
                                               help="Bench run folders.")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", file_okay=False, help="Where a combined report goes (needed for"
        " several runs).", show_default=False)] = None,
) -> None:
    """Write report.md and a self-contained report.html (plots embedded, PNGs in report/):
    the best variant for each objective with its `vllm serve` flags, capacity under the SLO and
    the knee, latency percentiles, cold and warm starts, and every flag raised."""
    from orchestrator.results.report import report_run

    if len(runs) > 1 and output is None:
        raise typer.BadParameter("several runs make one combined report: say where with -o DIR",
                                 param_hint="-o")
    md_path, html_path = report_run(runs, output)
    out().print(f"wrote {md_path} and {html_path}", highlight=False, soft_wrap=True)
