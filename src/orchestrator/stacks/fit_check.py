"""The fit check of a bench run's server variants before anything starts, and each start's
KV cache as vLLM logged it, held against the prediction."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from orchestrator.analysis.server_start import ServerStart
from orchestrator.config.sweep_matrix import ServerVariant
from orchestrator.fit.check import FitReport, check_fit
from orchestrator.fit.gpus import GIB, GpuInventory, host_inventory
from orchestrator.runtimes import traits
from orchestrator.terminal import safe


def check_variants(variants: list[ServerVariant], inventory: GpuInventory,
                   console: Console, count_only_warns: bool = False) -> dict[str, FitReport]:
    """Each variant's fit (FitError for the first that cannot start), its lines printed."""
    reports = {}
    label = len(variants) > 1
    for variant in variants:
        server = variant.spec.server
        assert server is not None
        report = check_fit(server, variant.spec.workload, inventory,
                           variant.name if label else "", count_only_warns)
        for line in report.lines:
            console.print(safe(line), highlight=False)
        reports[variant.name] = report
    return reports


def inventory_here(kind: str) -> GpuInventory:
    """The GPUs as known without connecting to an engine (validate, --dry-run): this host's
    for the runtimes that run here; a cluster's are asked at `up`."""
    if traits(kind).pins_gpu_ids:
        return host_inventory()
    return GpuInventory("the cluster (its nodes are asked at `up`)", None)


def fit_record(report: FitReport) -> dict[str, Any] | None:
    """variants.json's `fit`: the prediction per GPU (None when there is none)."""
    if report.estimate is None or report.gpu is None or report.shape is None:
        return None
    fit, shape, gpu = report.estimate, report.shape, report.gpu
    split = fit.gpus
    return {"gpu": gpu.name, "bandwidth_gb_s": gpu.bandwidth_gb_s or None,
            "bf16_tflops": gpu.bf16_tflops or None, "model_source": shape.source,
            "active_params": shape.active_params,
            "active_weights_gib": round(shape.active_params / shape.params
                                        * shape.weight_bytes(fit.dtype_bytes) / split / GIB, 4),
            **fit.as_json()}


def measured(fit: dict[str, Any] | None, start: ServerStart) -> str | None:
    """Add vLLM's own KV cache size (and the prediction's error in %) to a variant's `fit`;
    return the line to print, or None when vLLM's log did not say."""
    if fit is None or start.kv_cache_tokens is None:
        return None
    predicted = fit["kv_cache_tokens"]
    error = (predicted - start.kv_cache_tokens) / start.kv_cache_tokens * 100
    fit.update({"measured_kv_cache_tokens": start.kv_cache_tokens,
                "measured_kv_cache_gib": start.kv_cache_gib,
                "measured_max_concurrency": start.max_concurrency,
                "kv_cache_error_pct": round(error, 1)})
    return (f"KV cache {start.kv_cache_tokens:,} tokens (vLLM's log), predicted {predicted:,}"
            f" ({error:+.1f}%)")
