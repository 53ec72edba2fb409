"""A training run's report: whether it learned (the reward's first and last third, the steps
with a reward spread and a gradient), reward (mean ± std), KL, loss and grad norm per step
(metrics.csv), and rollout generation speed (rollouts.log), as report.md and a self-contained
report.html."""

from __future__ import annotations

import csv
from pathlib import Path

from orchestrator.analysis.rollouts import parse
from orchestrator.results.report import figure, png, write_pages

CURVES = ("reward", "kl", "loss", "grad_norm")
SPREAD = "reward_std"  # TRL's spread of the rewards within each step's groups


def write_train_report(folder: Path) -> tuple[Path, Path]:
    """report.md, report.html and report/*.png from the run folder's metrics.csv and
    rollouts.log (either may be missing: a run cut short)."""
    steps: dict[str, list[tuple[float, float]]] = {name: [] for name in (*CURVES, SPREAD)}
    metrics = folder / "metrics.csv"
    if metrics.is_file():
        with metrics.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for name in steps:
                    value, step = _number(row.get(name)), _number(row.get("step"))
                    if value is not None and step is not None:
                        steps[name].append((step, value))
    turns = parse(folder / "rollouts.log")[0] if (folder / "rollouts.log").is_file() else []
    speeds = [t.tokens_per_s for t in turns]

    made, axes = figure(len(CURVES))
    for axis, name in zip(axes, CURVES, strict=True):
        axis.plot([s for s, _ in steps[name]], [v for _, v in steps[name]], "o-")
        spread = dict(steps[SPREAD])
        if name == "reward" and spread:  # the band: mean ± the spread within the groups
            band = [(s, v, spread[s]) for s, v in steps[name] if s in spread]
            axis.fill_between([s for s, _, _ in band], [v - d for _, v, d in band],
                              [v + d for _, v, d in band], alpha=0.2)
        axis.set(xlabel="step", title=f"{name} (mean ± std)" if name == "reward" else name)
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
        ("Learning signal", ["reward, first third of steps", "last third", "steps with a"
                             " reward spread", "steps with grad norm > 0", "verdict"],
         [learning_signal(steps["reward"], steps[SPREAD], steps["grad_norm"])]),
        ("Training curves", ["metric", "logged steps", "last"], table),
        ("Rollouts", ["generations", "min tok/s", "median tok/s", "longest completion"],
         speed_rows),
    ], {"training": curves, "rollouts": rollout})


def learning_signal(reward: list[tuple[float, float]], spread: list[tuple[float, float]],
                    grad_norm: list[tuple[float, float]]) -> list[str]:
    """One row: the reward's mean over the first and the last third of the steps, how many
    steps had rewards that differed within a group (GRPO learns from nothing else) and a
    non-zero gradient, and the verdict in words."""
    if not reward:
        return ["-", "-", "-", "-", "no steps logged"]
    third = max(1, len(reward) // 3)
    first = sum(v for _, v in reward[:third]) / third
    last = sum(v for _, v in reward[-third:]) / third
    varied = sum(1 for _, v in spread if v > 0)
    moved = sum(1 for _, v in grad_norm if v > 0)
    if spread and not varied:
        verdict = ("none: every completion of a group got the same reward, so GRPO's"
                   " advantages were zero; use a reward that varies (length_target, keyword,"
                   " exact_answer)")
    elif len(reward) < 3:
        verdict = "too few steps to tell"
    else:
        verdict = "reward rising" if last > first else "reward not rising"
    return [f"{first:.4g}", f"{last:.4g}", f"{varied} of {len(spread)}",
            f"{moved} of {len(grad_norm)}", verdict]


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and value == value else None
