"""The report a bench run ends with: report.md and a self-contained report.html (plots embedded,
PNG files beside them in report/), answering which variant is best, how many users fit under
the SLO, where throughput stops growing, and what was flagged."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.results.answers import SeriesAnswer

PLOTS_DIR = "report"


@dataclass(frozen=True)
class Best:
    """The best point for one objective."""

    objective: str
    row: dict[str, Any] | None
    flags: list[str]


@dataclass
class ReportData:
    """What a report shows: the rows (summary.json), the series answers and the variants."""

    title: str
    rows: list[dict[str, Any]]
    answers: list[SeriesAnswer]
    variants: list[dict[str, Any]]  # variants.json
    gpus: int  # per server, 0 on CPU


def best_points(data: ReportData) -> list[Best]:
    """The best variant for each objective, with the `vllm serve` flags that reproduce it."""
    rows = [r for r in data.rows if not r.get("failed")]
    flags = {a.variant: a.serve_flags for a in data.answers}

    def pick(objective: str, candidates: list[dict[str, Any]], key: str, high: bool) -> Best:
        usable = [r for r in candidates if isinstance(r.get(key), int | float)]
        if not usable:
            return Best(objective, None, [])
        row = max(usable, key=lambda r: r[key]) if high else min(usable, key=lambda r: r[key])
        return Best(objective, row, flags.get(row["variant"], []))

    within = [r for r in rows if r.get("slo_met")]
    best = [pick("highest throughput", rows, "output_throughput", True),
            pick("highest throughput within the SLO", within, "output_throughput", True),
            pick("lowest latency (mean TTFT)", rows, "mean_ttft_ms", False)]
    if any("conversations_per_s" in r for r in rows):
        best.append(pick("shortest time to finish the conversations", rows,
                         "conversations_per_s", True))
    return best


def write_report(folder: Path, data: ReportData) -> tuple[Path, Path]:
    """Write report/*.png, report.md and report.html into `folder`; return the two reports."""
    plots = {name: draw(data) for name, draw in PLOTS.items()}
    return write_pages(folder, data.title, _tables(data), plots)


Tables = list[tuple[str, list[str], list[list[str]]]]  # (title, headers, rows)


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
    from orchestrator.results.finished_run import read_run

    rows: list[dict[str, Any]] = []
    answers: list[SeriesAnswer] = []
    variants: list[dict[str, Any]] = []
    gpus = 0
    for folder in folders:
        loaded = load_saved(folder / "config.yaml")
        assert loaded.matrix is not None  # a bench run's config has a server
        points = {f"raw/{p.key}": p for p in loaded.matrix.all_points}
        run_rows, run_variants = read_run(folder)
        run_rows = [r for r in run_rows if r.get("file") in points]
        for row in run_rows:  # the answers anew, from this orchestrator's rules
            point = points[row["file"]]
            answer_row(row, point, metrics_summary(
                folder / METRICS_DIR / point.variant.name / point.name.replace(".json", ".csv")))
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
    """Output tokens/s against concurrency, a line per variant and workload."""
    made, (axis,) = figure()
    for label, rows in _series(data.rows).items():
        axis.plot([r["concurrency"] for r in rows], _values(rows, "output_throughput"), "o-",
                  label=label)
    axis.set(xlabel="concurrency", ylabel="output tokens/s", title="Throughput vs concurrency")
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


# -- text -------------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _tables(data: ReportData) -> Tables:
    """(title, headers, rows) for every table of the report."""
    points = [[f"{r['variant']} {r['workload']}", _settings(r), str(r["concurrency"]),
               _fmt(r.get("output_throughput")), _fmt(r.get("request_throughput")),
               _fmt(r.get("p50_ttft_ms")), _fmt(r.get("p99_ttft_ms")),
               _fmt(r.get("p50_tpot_ms")), _fmt(r.get("p99_e2el_ms")),
               _fmt(r.get("request_goodput")), _fmt(r.get("slo_met")),
               _fmt(r.get("max_waiting"), 0), r.get("flags") or "-"] for r in data.rows]
    best = [[b.objective,
             f"{b.row['variant']} {b.row['workload']} c{b.row['concurrency']}" if b.row else "-",
             _fmt(b.row.get("output_throughput")) if b.row else "-",
             _fmt(b.row.get("mean_ttft_ms")) if b.row else "-",
             " ".join(b.flags) if b.row else "no point qualifies"]
            for b in best_points(data)]
    capacity = []
    for answer in data.answers:
        at = _at_capacity(data.rows, answer)
        capacity.append([f"{answer.variant} {answer.workload}", answer.settings or "-",
                         answer.capacity.text() if answer.capacity else "no SLO set",
                         str(answer.knee) if answer.knee is not None else "-",
                         _fmt(at.get("request_throughput", 0) * 3600, 0) if at else "-",
                         _fmt(at.get("output_throughput", 0) * 3600, 0) if at else "-"])
    rates = _rate_capacity(data.rows)
    if rates:
        capacity += [[f"{variant} (all rates)", "highest workload.request_rate within the SLO",
                      rate, "-", "-", "-"] for variant, rate in rates.items()]
    starts = [[v["name"], json.dumps(v["settings"]), v.get("server") or "-",
               v.get("compile_cache") or "-", _fmt(v.get("ready_s"), 1), v.get("status", "-")]
              for v in data.variants]
    flagged = [[f"{r['variant']} {r['workload']} c{r['concurrency']}", r["flags"]]
               for r in data.rows if r.get("flags")]
    replays = [r for r in data.rows if r.get("time_to_finish_s") is not None]
    conversations: Tables = []
    if replays:
        fastest = max(replays, key=lambda r: r.get("conversations_per_s") or 0)
        conversations.append(("Conversations: time to finish them all", [
            "series", "conc", "conversations", "time to finish s", "conversations/s",
            "turns completed", "failed", "mean TTFT ms", "mean TPOT ms", ""], [
            [f"{r['variant']} {r['workload']}", str(r["concurrency"]),
             f"{r.get('conversations_completed', '-')}/{r.get('conversations', '-')}",
             _fmt(r["time_to_finish_s"]), _fmt(r.get("conversations_per_s"), 3),
             str(r.get("completed")), str(r.get("failed")), _fmt(r.get("mean_ttft_ms")),
             _fmt(r.get("mean_tpot_ms")), "fastest" if r is fastest else ""]
            for r in replays]))
    cold = _cold_vs_warm(data)
    cold_start: Tables = [("Cold start: the warm-up against the first warm point", [
        "variant", "warm-up requests", "cold mean TTFT ms", "cold p99 TTFT ms",
        "warm mean TTFT ms (first point)", "cold / warm", "warm-up s"], cold)] if cold else []
    return [
        ("Best variant for each objective", ["objective", "point", "out tok/s", "mean TTFT ms",
                                             "vllm serve"], best),
        *conversations,
        ("Capacity under the SLO", ["series", "settings", "capacity (concurrency)", "knee",
                                    "requests/hour", "output tokens/hour"], capacity),
        ("Points", ["series", "settings", "conc", "out tok/s", "req/s", "p50 TTFT", "p99 TTFT",
                    "p50 TPOT", "p99 E2E", "goodput", "SLO met", "max waiting", "flags"], points),
        *cold_start,
        ("Server starts", ["variant", "settings", "server", "compile cache", "ready s",
                           "status"], starts),
        ("Flags raised", ["point", "flags"], flagged or [["-", "none"]]),
    ]


def _cold_vs_warm(data: ReportData) -> list[list[str]]:
    """Per variant with a warm-up (workload.warmup_prompts): its cold TTFT beside the TTFT of
    the variant's first point, measured right after on the now warm server."""
    rows = []
    for variant in data.variants:
        warmup = variant.get("warmup")
        if not warmup:
            continue
        first = next((r for r in data.rows if r["variant"] == variant["name"]), None)
        cold, warm = warmup.get("mean_ttft_ms"), first.get("mean_ttft_ms") if first else None
        rows.append([variant["name"], str(warmup.get("requests")), _fmt(cold),
                     _fmt(warmup.get("p99_ttft_ms")), _fmt(warm),
                     f"{cold / warm:.1f}x" if cold and warm else "-",
                     _fmt(warmup.get("duration"))])
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
