"""A training run's report: reward, KL, loss and grad norm per step (metrics.csv), and rollout
generation speed (rollouts.log), as report.md and a self-contained report.html."""

from __future__ import annotations

import csv
from pathlib import Path

from orchestrator.analysis.rollouts import parse
from orchestrator.results.report import figure, png, write_pages

CURVES = ("reward", "kl", "loss", "grad_norm")


def write_train_report(folder: Path) -> tuple[Path, Path]:
    """report.md, report.html and report/*.png from the run folder's metrics.csv and
    rollouts.log (either may be missing: a run cut short)."""
    steps: dict[str, list[tuple[float, float]]] = {name: [] for name in CURVES}
    metrics = folder / "metrics.csv"
    if metrics.is_file():
        with metrics.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for name in CURVES:
                    value, step = _number(row.get(name)), _number(row.get("step"))
                    if value is not None and step is not None:
                        steps[name].append((step, value))
    turns = parse(folder / "rollouts.log")[0] if (folder / "rollouts.log").is_file() else []
    speeds = [t.tokens_per_s for t in turns]

    made, axes = figure(len(CURVES))
    for axis, name in zip(axes, CURVES, strict=True):
        axis.plot([s for s, _ in steps[name]], [v for _, v in steps[name]], "o-")
        axis.set(xlabel="step", title=name)
        axis.grid(alpha=0.3)
    curves = png(made)
    made, (axis,) = figure()
    axis.plot(range(1, len(speeds) + 1), speeds, "o-")
    axis.set(xlabel="rollout generation", ylabel="output tokens/s", title="Rollout speed")
    axis.grid(alpha=0.3)
    rollout = png(made)

    last = {name: (f"{values[-1][1]:.4g}" if values else "-") for name, values in steps.items()}
    table = [[name, str(len(steps[name])), last[name]] for name in CURVES]
    speed_rows = [[str(len(turns)), f"{min(speeds):.1f}" if speeds else "-",
                   f"{sorted(speeds)[len(speeds) // 2]:.1f}" if speeds else "-",
                   str(max((t.per_completion for t in turns), default=0))]]
    return write_pages(folder, f"training run {folder.name}", [
        ("Training curves", ["metric", "logged steps", "last"], table),
        ("Rollouts", ["generations", "min tok/s", "median tok/s", "longest completion"],
         speed_rows),
    ], {"training": curves, "rollouts": rollout})


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and value == value else None
