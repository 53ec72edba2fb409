"""The answer across variants: the best point for each objective, and how sure it is (its 95%
interval over repeats against the runner-up's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.analysis.confidence import Interval, interval
from orchestrator.results.answers import SeriesAnswer


@dataclass
class ReportData:
    """What a report shows: the rows (summary.json), the series answers and the variants."""

    title: str
    rows: list[dict[str, Any]]
    answers: list[SeriesAnswer]
    variants: list[dict[str, Any]]  # variants.json
    gpus: int  # per server, 0 on CPU


@dataclass(frozen=True)
class Best:
    """The best point for one objective, and how sure that is."""

    objective: str
    row: dict[str, Any] | None  # the point's first run
    flags: list[str]  # the `vllm serve` flags that reproduce it
    value: Interval | None = None  # the objective's figure over the point's repeats
    verdict: str = ""  # clear winner, tie within noise, or no confidence yet
    weak: list[str] = field(default_factory=list)  # the point's flags (cold, not-steady, ...)


def best_points(data: ReportData) -> list[Best]:
    """The best point for each objective, its `vllm serve` flags, and whether its 95% interval
    over the repeats clears the runner-up's (the best point of another series, or the next
    point of the only one): else a tie within noise, naming both."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in data.rows:
        if row.get("probe_rate") is not None:  # a rate search's probe: not a concurrency point
            continue
        groups.setdefault((row["variant"], row["workload"], row["concurrency"]), []).append(row)
    usable = {k: rs for k, rs in groups.items()  # a failed or impossible figure never wins
              if not any(r.get("failed") or {"implausible", "server-lost"}
                         & set((r.get("flags") or "").split()) for r in rs)}
    within = {k: rs for k, rs in usable.items() if all(r.get("slo_met") for r in rs)}
    serve = {a.variant: a.serve_flags for a in data.answers}

    def pick(objective: str, candidates: dict[tuple[str, str, int], list[dict[str, Any]]],
             key: str, high: bool) -> Best:
        scored = sorted(((k, i) for k, rs in candidates.items()
                         if (i := interval([r[key] for r in rs
                                            if isinstance(r.get(key), int | float)]))),
                        key=lambda item: item[1].mean, reverse=high)
        if not scored:
            return Best(objective, None, [])
        (variant, workload, conc), value = scored[0]
        rows = candidates[(variant, workload, conc)]
        runner = next((item for item in scored[1:] if item[0][:2] != (variant, workload)),
                      scored[1] if len(scored) > 1 else None)
        weak = sorted({f for r in rows for f in (r.get("flags") or "").split()})
        return Best(objective, rows[0], serve.get(variant, []), value,
                    _verdict(value, runner), weak)

    best = [pick("highest throughput", usable, "output_throughput", True),
            pick("highest throughput within the SLO", within, "output_throughput", True),
            pick("lowest latency (mean TTFT)", usable, "mean_ttft_ms", False)]
    if any("conversations_per_s" in r for r in data.rows):
        best.append(pick("shortest time to finish the conversations", usable,
                         "conversations_per_s", True))
    return best


def _verdict(value: Interval, runner: tuple[tuple[str, str, int], Interval] | None) -> str:
    if runner is None:
        return "the only candidate"
    (variant, workload, conc), other = runner
    name = f"{variant} {workload} c{conc} ({other.text()})"
    if value.n < 2 or other.n < 2:
        return f"no confidence yet: one run per point (set sweep.repeats: 3); next: {name}"
    if value.overlaps(other):
        return f"tie within noise with {name}"
    return f"clears {name} (95% intervals apart)"
