"""The fit check before anything starts: the model's folder found on this host, the GPUs there
are (the runtime says: nvidia-smi here, or a node's allocatable nvidia.com/gpu), the estimate
per GPU, and a refusal when the server cannot start (too few GPUs, weights that do not fit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config.model import Server, Workload
from orchestrator.errors import FitError
from orchestrator.fit.gpus import GpuInventory, GpuSpec, lookup
from orchestrator.fit.memory import FitEstimate, ServerShape, estimate, smallest_split
from orchestrator.fit.model_shape import ModelShape, read_shape

GB = 1e9


@dataclass
class FitReport:
    """What the check found for one server setting: the estimate (None when the model's files
    or the GPU memory are unknown) and lines to print."""

    estimate: FitEstimate | None = None
    gpu: GpuSpec | None = None
    shape: ModelShape | None = None
    lines: list[str] = field(default_factory=list)


def model_folder(server: Server) -> Path | None:
    """The model's folder on this host: server.model itself when it is a folder here, else its
    newest snapshot in the Hugging Face cache under server.model_cache.host_path."""
    direct = Path(server.model).expanduser()
    if (direct / "config.json").is_file():
        return direct
    if server.model_cache.host_path is None or "/" not in server.model:
        return None
    cache = Path(server.model_cache.host_path).expanduser()
    repo = "models--" + server.model.replace("/", "--")
    snapshots = [p for base in (cache / "hub", cache) for p in (base / repo / "snapshots").glob("*")
                 if (p / "config.json").is_file()]
    return max(snapshots, key=lambda p: p.stat().st_mtime) if snapshots else None


def gpu_spec(server: Server, inventory: GpuInventory) -> GpuSpec | None:
    """The GPU's limits: server.hardware's values over the table's row for its name (the
    config's gpu, else what the runtime found), memory as the runtime found it."""
    hardware = server.hardware
    name = hardware.gpu or inventory.name
    row = lookup(name) if name else None
    memory = hardware.memory_gib or inventory.memory_gib or (row.memory_gib if row else None)
    bandwidth = hardware.bandwidth_gb_s or (row.bandwidth_gb_s if row else None)
    flops = hardware.bf16_tflops or (row.bf16_tflops if row else None)
    if memory is None:
        return None
    return GpuSpec(row.name if row else (name or "GPU"), memory, bandwidth or 0.0, flops or 0.0)


def check_fit(server: Server, workload: Workload, inventory: GpuInventory,
              label: str = "", count_only_warns: bool = False) -> FitReport:
    """Refuse (FitError) a server that cannot start where it would run; else the estimate
    and what to print. A CPU server (gpus: 0) is not checked. `count_only_warns` (validate:
    a config may be checked on one machine and run on another) makes too few GPUs a warning."""
    report = FitReport()
    if server.gpu_count == 0:
        return report
    prefix = f"{label}: " if label else ""
    split = server.tensor_parallel_size * server.pipeline_parallel_size
    per_node = -(-split // server.nodes)
    if inventory.count is not None and max(per_node, server.gpu_count) > inventory.count:
        wanted = max(per_node, server.gpu_count)
        field_name = ("server.gpus" if server.gpu_count >= per_node
                      else "server.tensor_parallel_size x pipeline_parallel_size")
        message = (f"{field_name} asks for {wanted} GPU(s) per node, but {inventory.where} has"
                   f" {inventory.count}; lower tensor_parallel_size (and server.gpus), or run"
                   f" where there are {wanted}")
        if not count_only_warns:
            raise FitError(prefix + message)
        report.lines.append(f"{prefix}warning: {message} (`up` here refuses it)")
    folder = model_folder(server)
    if folder is None:
        report.lines.append(f"{prefix}fit: not estimated (no config.json for {server.model} on"
                            " this host: give server.model as a folder here, or keep it in"
                            " server.model_cache.host_path)")
        return report
    shape = read_shape(folder)
    gpu = gpu_spec(server, inventory)
    report.shape, report.gpu = shape, gpu
    if gpu is None:
        report.lines.append(f"{prefix}fit: not estimated (GPU memory unknown at"
                            f" {inventory.where}; set server.hardware.gpu or memory_gib)")
        return report
    max_len = server.max_model_len or shape.max_position or 2048
    shaped = ServerShape.of(server.tensor_parallel_size, server.pipeline_parallel_size,
                            gpu.memory_gib, gpu.name, server.gpu_memory_utilization, max_len,
                            server.max_num_seqs, server.max_num_batched_tokens,
                            server.enforce_eager, server.dtype, server.extra_args)
    fit = estimate(shape, shaped)
    report.estimate = fit
    if fit.kv_cache_gib <= 0:
        raise FitError(_refusal(prefix, server, shape, shaped, fit, gpu))
    report.lines.append(
        f"{prefix}fit per GPU ({gpu.name}, {gpu.memory_gib:.1f} GiB x"
        f" {server.gpu_memory_utilization:g} = {fit.budget_gib:.1f} GiB): weights"
        f" {fit.weights_gib:.2f} GiB + overheads {fit.overheads_gib:.2f} GiB -> KV cache"
        f" {fit.kv_cache_gib:.2f} GiB = {fit.kv_cache_tokens:,} tokens; maximum concurrency"
        f" {fit.max_concurrency:,.1f}x at {max_len:,} tokens (predicted from {shape.source})")
    if workload.dataset == "random":
        request = workload.input_len + workload.output_len
        holds = fit.kv_cache_tokens // request
        if holds < fit.max_num_seqs:
            report.lines.append(
                f"{prefix}warning: the KV cache holds {holds:,} requests of {request:,} tokens,"
                f" fewer than max_num_seqs {fit.max_num_seqs:,}: above that vLLM preempts"
                " (raise gpu_memory_utilization or tensor_parallel_size, or lower max_num_seqs)")
    return report


def _refusal(prefix: str, server: Server, shape: ModelShape, shaped: ServerShape,
             fit: FitEstimate, gpu: GpuSpec) -> str:
    total_gb = shape.weight_bytes(shaped.dtype_bytes) / GB
    split = shaped.tp * shaped.pp
    need = smallest_split(shape, shaped)
    fix = (f"set tensor_parallel_size >= {need}" if need and need > shaped.tp
           else "raise gpu_memory_utilization, or lower max_num_seqs or max_num_batched_tokens")
    what = (f"needs {total_gb:,.0f} GB of weights" if fit.weights_gib > fit.budget_gib
            else f"leaves no KV cache ({fit.weights_gib:.1f} GiB of weights and"
                 f" {fit.overheads_gib:.1f} GiB of overheads per GPU)")
    dtype = "fp32" if shaped.dtype_bytes == 4 else "bf16"
    return (f"{prefix}{server.model} ({dtype}) {what}: on {split} x {gpu.memory_gib:.0f} GiB"
            f" ({gpu.name}, gpu_memory_utilization {server.gpu_memory_utilization:g}) {fix}")
