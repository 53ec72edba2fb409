"""Two runs side by side: their matching points (same server and workload settings, same
concurrency and repeat) and each metric's change, judged against a regression threshold."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError

DEFAULT_METRICS = ("output_throughput", "mean_ttft_ms", "mean_tpot_ms")
SETTING_PREFIXES = ("server.", "workload.")


@dataclass(frozen=True)
class Change:
    """One metric of one matched point in both runs."""

    point: str  # the point's settings and concurrency, in words
    metric: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        """The relative change (after / before - 1); 0 when both are 0."""
        if self.before == 0:
            return 0.0 if self.after == 0 else float("inf")
        return self.after / self.before - 1

    @property
    def worse(self) -> float:
        """How much worse it got, as a share (negative: better): latencies (…_ms) grow worse,
        everything else (throughput, goodput) shrinks worse."""
        return self.delta if lower_is_better(self.metric) else -self.delta


@dataclass(frozen=True)
class Comparison:
    """Every matched point's changes, and which regress beyond the threshold."""

    changes: list[Change]
    matched: int
    only_a: int
    only_b: int

    def regressions(self, threshold: float) -> list[Change]:
        """Changes worse than `threshold` (a share: 0.05 is 5%)."""
        return [c for c in self.changes if c.worse > threshold]


def lower_is_better(metric: str) -> bool:
    """Latencies are better lower; rates better higher."""
    return metric.endswith("_ms")


def read_rows(run: Path) -> list[dict[str, Any]]:
    """A run's summary rows (its summary.json); ConfigError when it has none."""
    try:
        rows = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{run}: no readable summary.json; give a bench run folder such as"
                          " bench_results/20261127-101500-ab12") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"{run}/summary.json is not a list of points")
    return rows


def point_key(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """What identifies a point across runs: its settings, concurrency and repeat."""
    settings = sorted((k, json.dumps(v)) for k, v in row.items() if k.startswith(SETTING_PREFIXES))
    return (*settings, ("concurrency", str(row.get("concurrency"))),
            ("repeat", str(row.get("repeat", 0))))


def describe(key: tuple[tuple[str, str], ...]) -> str:
    """A point's key in words: `max_num_seqs=8 output_len=128 c4`."""
    parts = [f"{k.split('.', 1)[1]}={json.loads(v)}" for k, v in key
             if k.startswith(SETTING_PREFIXES)]
    fields = dict(key)
    parts.append(f"c{fields['concurrency']}")
    if fields["repeat"] not in ("0", "None"):
        parts.append(f"r{fields['repeat']}")
    return " ".join(parts)


def compare(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]],
            metrics: tuple[str, ...] = DEFAULT_METRICS) -> Comparison:
    """Match the runs' points and collect each metric's change."""
    by_key_a = {point_key(r): r for r in rows_a}
    by_key_b = {point_key(r): r for r in rows_b}
    shared = [k for k in by_key_a if k in by_key_b]
    changes = []
    for key in shared:
        for metric in metrics:
            before, after = by_key_a[key].get(metric), by_key_b[key].get(metric)
            if isinstance(before, int | float) and isinstance(after, int | float):
                changes.append(Change(describe(key), metric, float(before), float(after)))
    return Comparison(changes, len(shared), len(by_key_a) - len(shared),
                      len(by_key_b) - len(shared))
