"""What the hardware can physically do at a point, held against what was measured.

Decode is bound by memory bandwidth: a step reads, on each GPU, at least the weights one token
passes through (a MoE's top-k experts, not all of them) and the KV cache of every running
request. Prefill is bound by compute: 2 FLOPs per active parameter per prompt token. The two
overlap in vLLM's mixed steps, so the point's shortest possible duration is the longer of the
two, and its bound on output tokens/s is its output over that duration. Every simplification
errs towards a higher bound (fewer bytes, fewer FLOPs, the most requests running), so a figure
above its bound is a measurement error, never a fast server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3
TOLERANCE = 0.05  # spec sheets round; beyond this a figure is implausible


@dataclass(frozen=True)
class Bound:
    """One point's physical limits."""

    output_tok_s: float  # the most output tokens/s at this concurrency
    tpot_floor_ms: float  # the shortest decode step (one request running)


def point_bound(fit: dict[str, Any] | None, concurrency: int, input_len: float,
                output_len: float, completed: int) -> Bound | None:
    """The bound of a point, from its variant's fit record (variants.json: per-GPU bytes,
    the GPU's bandwidth and FLOPs); None where they are unknown (a CPU, a GPU not in the
    table, a model whose files were not here)."""
    if not fit or not fit.get("bandwidth_gb_s") or not fit.get("bf16_tflops"):
        return None
    if completed <= 0 or output_len <= 0:
        return None
    bandwidth = float(fit["bandwidth_gb_s"]) * 1e9
    flops = float(fit["bf16_tflops"]) * 1e12 * int(fit["gpus"])
    weights = float(fit["active_weights_gib"]) * GIB
    per_token = float(fit["kv_bytes_per_token"])
    running = min(concurrency, int(fit["max_num_seqs"]))
    context = input_len + output_len / 2  # a request's mean context over its decode

    def step_s(batch: int) -> float:
        return (weights + batch * context * per_token) / bandwidth

    decode_s = completed * output_len / (running / step_s(running))
    prefill_s = completed * input_len * 2 * float(fit["active_params"]) / flops
    return Bound(completed * output_len / max(decode_s, prefill_s), step_s(1) * 1000)


def efficiency(row: dict[str, Any], bound: Bound | None) -> tuple[float | None, bool]:
    """Measured output tokens/s over the bound, and whether a figure beats its bound
    (throughput above it, or a mean TPOT under the shortest possible step)."""
    if bound is None:
        return None, False
    measured = row.get("output_throughput") or 0.0
    tpot = row.get("mean_tpot_ms")
    share = measured / bound.output_tok_s if bound.output_tok_s else None
    implausible = bool(share and share > 1 + TOLERANCE) or (
        tpot is not None and 0 < tpot < bound.tpot_floor_ms * (1 - TOLERANCE))
    return share, implausible
