"""The rollout analysis, for people: rich tables and one recommendation."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from orchestrator.analysis.rollouts import Report
from orchestrator.terminal import plain, safe


def show_report(report: Report, console: Console, show_raw: bool, min_output_tokens: int) -> None:
    """Print the report."""
    console.print(f"[bold]{safe(report.file)}[/bold]: {report.turns} generation turn(s),"
                  f" {report.other_lines} other line(s)", highlight=False)
    if report.unparsed:
        console.print(f"[yellow]{len(report.unparsed)} timing-like line(s) could not be parsed[/yellow],"
                      f" first at line {report.unparsed[0]['line']}: {safe(report.unparsed[0]['text'])}",
                      highlight=False, markup=True)
    if not report.turns:
        console.print(plain(report.reason), highlight=False, markup=False)
        return
    figures = Table("", "p50", "p90", "min", "max", box=None, title_justify="left")
    speed, outs = report.tokens_per_s, report.output_tokens
    figures.add_row("generation tok/s", f"{speed['p50']:.1f}", f"{speed['p90']:.1f}",
                    f"{speed['min']:.1f}", "")
    figures.add_row("output tokens", f"{outs['p50']:.0f}", f"{outs['p90']:.0f}",
                    f"{outs['min']:.0f}", f"{outs['max']:.0f}")
    console.print(figures)
    histogram = Table("output tokens", "turns", box=None)
    for bucket in report.output_histogram:
        histogram.add_row(f"{bucket['from']}-{bucket['to'] - 1}", str(bucket["turns"]))
    console.print(histogram)
    console.print(f"{len(report.long_turns)} turn(s) generate {min_output_tokens} tokens or more"
                  + (f" (lines {', '.join(str(t['line']) for t in report.long_turns[:10])})"
                     if report.long_turns else ""), highlight=False)
    if report.at_limit:
        console.print(f"{report.at_limit} turn(s) stopped at the MAX_TOKENS limit", highlight=False)
    if report.thinking_before_tool:
        console.print(f"{len(report.thinking_before_tool)} turn(s) think aloud before a tool call",
                      highlight=False)
        if show_raw:
            for turn in report.thinking_before_tool:
                console.print(plain(f"  line {turn['line']} ({turn['tokens_out']} tokens):"
                                    f" {turn['starts']!r}"), highlight=False, markup=False)
    console.print(f"[bold]recommended MAX_TOKENS={report.recommended_max_tokens}[/bold]:"
                  f" {report.reason}", highlight=False)
