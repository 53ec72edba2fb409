"""The memory a vLLM server needs on each GPU, before anything starts: the weights split over
tensor x pipeline parallel, stated overheads, and what is left for the KV cache, in tokens and
in requests of max_model_len (the "Maximum concurrency" vLLM logs at start-up).

The overheads are vLLM's own start-up profile, measured on H100 and H200 starts in
docs/gpu-proof (tests/test_fit.py holds them against every logged KV cache size):
- non-torch memory (CUDA context, cuBLAS workspaces): 0.7 GiB, and 0.5 GiB more for the
  collective buffers when the model is split over GPUs;
- activations of the profile's largest batch: max_num_batched_tokens x (3 x a token's MLP
  width / tp + 4 x hidden) x 2 bytes;
- the sampler's profile: max_num_seqs x vocab x 12 bytes (fp32 logits and two working copies);
- CUDA graphs (none with enforce_eager): 0.1 GiB + 0.25 GiB x min(max_num_seqs, 256) / 256.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.fit.gpus import GIB
from orchestrator.fit.model_shape import ModelShape

NON_TORCH_GIB = 0.7
COLLECTIVES_GIB = 0.5
SAMPLER_BYTES_PER_LOGIT = 12
GRAPHS_BASE_GIB, GRAPHS_PER_256_SEQS_GIB = 0.1, 0.25
LARGE_GPU_GIB = 70  # vLLM's defaults change at this much GPU memory (not on A100)
DTYPE_BYTES = {"float32": 4, "float": 4}  # --dtype; every other float dtype is 2 bytes


@dataclass(frozen=True)
class ServerShape:
    """The server settings that decide its memory (vLLM's defaults filled in)."""

    tp: int
    pp: int
    gpu_memory_gib: float
    gpu_memory_utilization: float
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    enforce_eager: bool
    dtype_bytes: int
    kv_dtype_bytes: int

    @classmethod
    def of(cls, tp: int, pp: int, gpu_memory_gib: float, gpu_name: str, utilization: float,
           max_model_len: int, max_num_seqs: int | None, max_num_batched_tokens: int | None,
           enforce_eager: bool, dtype: str, extra_args: list[str]) -> ServerShape:
        """vLLM 0.2x's defaults where a setting is not given: 1024 sequences and 8192
        batched tokens on a GPU of 70 GiB or more (not an A100), else 256 and 2048."""
        large = gpu_memory_gib >= LARGE_GPU_GIB and "A100" not in gpu_name.upper()
        kv_fp8 = any((a == "--kv-cache-dtype" and b.startswith("fp8"))
                     or a.startswith("--kv-cache-dtype=fp8")
                     for a, b in itertools.pairwise([*extra_args, ""]))
        return cls(tp, pp, gpu_memory_gib, utilization, max_model_len,
                   max_num_seqs or (1024 if large else 256),
                   max_num_batched_tokens or (8192 if large else 2048), enforce_eager,
                   DTYPE_BYTES.get(dtype, 2), 1 if kv_fp8 else 2)


@dataclass(frozen=True)
class FitEstimate:
    """Per GPU, in GiB, and what it leaves for the KV cache."""

    gpu_memory_gib: float
    budget_gib: float  # gpu_memory x gpu_memory_utilization
    weights_gib: float
    non_torch_gib: float
    activations_gib: float
    sampler_gib: float
    cuda_graphs_gib: float
    kv_cache_gib: float  # what is left (negative: does not fit)
    kv_bytes_per_token: float
    kv_cache_tokens: int
    max_model_len: int
    max_num_seqs: int
    gpus: int  # tensor x pipeline parallel: the GPUs the weights are split over
    dtype_bytes: int

    @property
    def overheads_gib(self) -> float:
        """Everything but the weights and the KV cache."""
        return self.non_torch_gib + self.activations_gib + self.sampler_gib + self.cuda_graphs_gib

    @property
    def max_concurrency(self) -> float:
        """Requests of max_model_len tokens the KV cache holds (vLLM's "Maximum concurrency")."""
        return self.kv_cache_tokens / self.max_model_len

    def as_json(self) -> dict[str, Any]:
        """For variants.json (rounded)."""
        data = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}
        data["max_concurrency"] = round(self.max_concurrency, 2)
        return data


def estimate(shape: ModelShape, server: ServerShape) -> FitEstimate:
    """Per-GPU memory of `shape` served with `server`'s settings."""
    split = server.tp * server.pp
    weights = shape.weight_bytes(server.dtype_bytes) / split / GIB
    non_torch = NON_TORCH_GIB + (COLLECTIVES_GIB if split > 1 else 0.0)
    activations = (server.max_num_batched_tokens
                   * (3 * shape.mlp_width / server.tp + 4 * shape.hidden) * 2 / GIB)
    sampler = server.max_num_seqs * shape.vocab * SAMPLER_BYTES_PER_LOGIT / GIB
    graphs = 0.0 if server.enforce_eager else (
        GRAPHS_BASE_GIB + GRAPHS_PER_256_SEQS_GIB * min(server.max_num_seqs, 256) / 256)
    budget = server.gpu_memory_gib * server.gpu_memory_utilization
    kv = budget - weights - non_torch - activations - sampler - graphs
    per_token = shape.kv_bytes_per_token(server.tp, server.pp, server.kv_dtype_bytes)
    tokens = int(max(0.0, kv) * GIB // per_token)
    return FitEstimate(server.gpu_memory_gib, budget, weights, non_torch, activations, sampler,
                       graphs, kv, per_token, tokens, server.max_model_len, server.max_num_seqs,
                       split, server.dtype_bytes)


def smallest_split(shape: ModelShape, server: ServerShape) -> int | None:
    """The smallest power-of-two tensor_parallel_size (up to 64) at which the weights leave
    room for the overheads and some KV cache, or None."""
    tp = 1
    while tp <= 64:
        trial = ServerShape(**{**server.__dict__, "tp": tp})
        if estimate(shape, trial).kv_cache_gib > 0:
            return tp
        tp *= 2
    return None
