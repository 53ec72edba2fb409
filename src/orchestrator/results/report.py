"""The report a bench run ends with: report.md and a self-contained report.html (plots embedded,
PNG files beside them in report/), answering which variant is best, how many users fit under
the SLO, where throughput stops growing, and what was flagged."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.results.answers import SeriesAnswer
from orchestrator.results.best import ReportData
from orchestrator.results.report_tables import Tables, tables

PLOTS_DIR = "report"


def write_report(folder: Path, data: ReportData) -> tuple[Path, Path]:
    """Write report/*.png, report.md and report.html into `folder`; return the two reports."""
    plots = {name: draw(data) for name, draw in PLOTS.items()}
    return write_pages(folder, data.title, tables(data), plots)


def write_pages(folder: Path, title: str, tables: Tables,
                plots: dict[str, bytes]) -> tuple[Path, Path]:
    """report/<plot>.png, report.md (linking them) and report.html (embedding them)."""
    plots_dir = folder / PLOTS_DIR
    plots_dir.mkdir(exist_ok=True)
    for name, png in plots.items():
        (plots_dir / f"{name}.png").write_bytes(png)
    md_path, html_path = folder / "report.md", folder / "report.html"
    md_path.write_text(_markdown(title, tables, [f"{PLOTS_DIR}/{name}.png" for name in plots]),
                       encoding="utf-8")
    html_path.write_text(_html(title, tables, plots), encoding="utf-8")
    return md_path, html_path


def report_run(folders: list[Path], output: Path | None = None) -> tuple[Path, Path]:
    """Rebuild the report of one run folder in place, or combine several into `output`
    (their variants named RUN-ID:VARIANT)."""
    from orchestrator.config import load_saved
    from orchestrator.results.answers import (
        METRICS_DIR,
        answer_row,
        metrics_summary,
        series_answers,
    )
    from orchestrator.results.run_folder import CONFIG_FILE, read_run

    rows: list[dict[str, Any]] = []
    answers: list[SeriesAnswer] = []
    variants: list[dict[str, Any]] = []
    gpus = 0
    for folder in folders:
        loaded = load_saved(folder / CONFIG_FILE)
        assert loaded.matrix is not None  # a bench run's config has a server
        matrix = loaded.matrix
        run_rows, run_variants = read_run(folder)
        points = {f"raw/{p.key}": p for p in matrix.all_points}
        points.update({row["file"]: p for row in run_rows  # a search's probes
                       if row.get("file") not in points
                       and (p := matrix.point_of(str(row.get("file", "")).removeprefix("raw/")))})
        run_rows = [r for r in run_rows if r.get("file") in points]
        fits = {v.get("name"): v.get("fit") for v in run_variants}
        for row in run_rows:  # the answers anew, from this orchestrator's rules
            point = points[row["file"]]
            answer_row(row, point, metrics_summary(
                folder / METRICS_DIR / point.variant.name / point.name.replace(".json", ".csv"),
                row), fits.get(point.variant.name))
        run_answers = series_answers(run_rows, points)
        if len(folders) > 1:
            prefix = f"{folder.name}:"
            run_rows = [{**r, "variant": prefix + r["variant"]} for r in run_rows]
            run_variants = [{**v, "name": prefix + v["name"]} for v in run_variants]
            run_answers = [replace(a, variant=prefix + a.variant) for a in run_answers]
        rows += run_rows
        answers += run_answers
        variants += run_variants
        server = loaded.matrix.variants[0].spec.server
        gpus = max(gpus, server.total_gpus if server else 0)
    title = (f"bench run {folders[0].name}" if len(folders) == 1
             else f"{len(folders)} bench runs: {', '.join(f.name for f in folders)}")
    target = output or folders[0]
    target.mkdir(parents=True, exist_ok=True)
    return write_report(target, ReportData(title, rows, answers, variants, gpus))


# -- plots (matplotlib, Agg) ------------------------------------------------------------------

def figure(columns: int = 1) -> Any:
    """A matplotlib figure (Agg) with `columns` axes side by side: (figure, [axes])."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    made, axes = pyplot.subplots(1, columns, figsize=(6.4 * columns, 4.2), squeeze=False)
    return made, list(axes[0])


def png(made: Any) -> bytes:
    """The figure as PNG bytes (and closed)."""
    from matplotlib import pyplot

    buffer = io.BytesIO()
    made.tight_layout()
    made.savefig(buffer, format="png", dpi=90)
    pyplot.close(made)
    return buffer.getvalue()


def _series(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(f"{row['variant']} {row['workload']}", []).append(row)
    return {k: sorted(v, key=lambda r: r["concurrency"]) for k, v in out.items()}


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) if isinstance(r.get(key), int | float) else float("nan") for r in rows]


def plot_throughput(data: ReportData) -> bytes:
    """Output tokens/s against concurrency, a line per variant and workload: the mean over the
    point's repeats, with its 95% interval as error bars when measured more than once."""
    made, (axis,) = figure()
    for answer in data.answers:
        points = [(c, stats["output_throughput"]) for c, stats in sorted(answer.stats.items())
                  if "output_throughput" in stats]
        axis.errorbar([c for c, _ in points], [i.mean for _, i in points],
                      yerr=[i.half or 0.0 for _, i in points], fmt="o-", capsize=3,
                      label=f"{answer.variant} {answer.workload}")
    axis.set(xlabel="concurrency", ylabel="output tokens/s",
             title="Throughput vs concurrency (bars: 95% interval over repeats)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return png(made)


def plot_latency(data: ReportData) -> bytes:
    """TTFT, TPOT and E2E latency (p50 solid, p99 dashed) against throughput."""
    made, axes = figure(3)
    for axis, metric, title in zip(axes, ("ttft", "tpot", "e2el"), ("TTFT", "TPOT", "E2E latency"),
                                   strict=True):
        for label, rows in _series(data.rows).items():
            x = _values(rows, "output_throughput")
            line = axis.plot(x, _values(rows, f"p50_{metric}_ms"), "o-", label=f"{label} p50")
            axis.plot(x, _values(rows, f"p99_{metric}_ms"), "x--", color=line[0].get_color(),
                      label=f"{label} p99")
        axis.set(xlabel="output tokens/s", ylabel="ms", title=f"{title} vs throughput")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize="x-small")
    return png(made)


def plot_pareto(data: ReportData) -> bytes:
    """Tokens/s per user against tokens/s per GPU (per server on CPU), every point, with the
    Pareto frontier across variants."""
    made, (axis,) = figure()
    key = "output_throughput_per_gpu" if data.gpus else "output_throughput"
    points = []
    for label, rows in _series(data.rows).items():
        x, y = _values(rows, key), _values(rows, "output_throughput_per_user")
        axis.scatter(x, y, label=label)
        points += [(a, b) for a, b in zip(x, y, strict=True) if a == a and b == b]
    frontier: list[tuple[float, float]] = []
    for a, b in sorted(points, key=lambda p: (-p[0], -p[1])):
        if not frontier or b > frontier[-1][1]:
            frontier.append((a, b))
    if frontier:
        axis.plot([p[0] for p in frontier], [p[1] for p in frontier], "k--", label="Pareto frontier")
    axis.set(xlabel="output tokens/s per GPU" if data.gpus else "output tokens/s per server (CPU)",
             ylabel="output tokens/s per user", title="Per-user speed vs hardware efficiency")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return png(made)


PLOTS = {"throughput": plot_throughput, "latency": plot_latency, "pareto": plot_pareto}


# -- pages -------------------------------------------------------------------------------------

def _markdown(title: str, tables: Tables, images: list[str]) -> str:
    lines = [f"# {title}", ""]
    for name, headers, rows in tables:
        lines += [f"## {name}", "", "| " + " | ".join(headers) + " |",
                  "|" + " --- |" * len(headers)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in rows]
        lines.append("")
    lines += ["## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images] + [""]
    return "\n".join(lines)


def _html(title: str, tables: Tables, plots: dict[str, bytes]) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for name, headers, rows in tables:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in rows)
        parts.append(f"<h2>{html.escape(name)}</h2><table><tr>{head}</tr>{body}</table>")
    parts.append("<h2>Plots</h2>")
    for plot, image in plots.items():
        encoded = base64.b64encode(image).decode("ascii")
        parts.append(f'<figure><img id="plot-{plot}" alt="{plot}" src="data:image/png;base64,'
                     f'{encoded}"></figure>')
    style = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "th{background:#eef}td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
