"""SGLang (`python3 -m sglang.launch_server`): the same config fields under SGLang's flags, its
own metric names (metrics enabled), version and cache-flush endpoints."""

from __future__ import annotations

from orchestrator.serving.base import Server, ServingEngine, field_flags


def _launch(server: Server) -> list[str]:
    return ["python3", "-m", "sglang.launch_server", "--model-path", server.model,
            "--host", "0.0.0.0", "--port", str(server.port), "--enable-metrics"]


SGLANG = ServingEngine(
    name="sglang",
    title="SGLang",
    launch=_launch,
    flags=field_flags({
        "model": ("--model-path", "--model"),
        "port": "--port",
        "served_model_name": "--served-model-name",
        "tensor_parallel_size": ("--tp-size", "--tensor-parallel-size"),
        "pipeline_parallel_size": ("--pp-size", "--pipeline-parallel-size"),
        "max_model_len": "--context-length",
        "gpu_memory_utilization": "--mem-fraction-static",
        "dtype": "--dtype",
        "enforce_eager": "--disable-cuda-graph",
        "max_num_seqs": "--max-running-requests",
        "max_num_batched_tokens": "--chunked-prefill-size",
    }),
    # The prefix-cache pair is SGLang's prompt tokens and those served from its radix cache
    # (summed over cache_source), so a point's hit rate is their deltas' ratio, as for vLLM.
    metrics={
        "running": ("sglang:num_running_reqs",),
        "waiting": ("sglang:num_queue_reqs",),
        "kv_cache_usage": ("sglang:token_usage",),
        "preemptions": ("sglang:num_retracted_requests_total",),
        "prefix_cache_queries": ("sglang:prompt_tokens_total",),
        "prefix_cache_hits": ("sglang:cached_tokens_total",),
    },
    version_path="/server_info",
    reset_cache_path="/flush_cache",
    cache_env=lambda mount: {"TORCHINDUCTOR_CACHE_DIR": f"{mount}/inductor",
                             "TRITON_CACHE_DIR": f"{mount}/triton"},
    foreign_flags={
        "--gpu-memory-utilization": "server.gpu_memory_utilization",
        "--max-model-len": "server.max_model_len",
        "--max-num-seqs": "server.max_num_seqs",
        "--max-num-batched-tokens": "server.max_num_batched_tokens",
        "--enforce-eager": "server.enforce_eager",
        "-tp": "server.tensor_parallel_size",
        "-pp": "server.pipeline_parallel_size",
        "--kv-cache-memory-bytes": "--max-total-tokens (the KV cache in tokens, not bytes)",
        "--enable-prefix-caching": "nothing: SGLang's radix cache is on unless"
                                   " --disable-radix-cache",
        "--no-enable-prefix-caching": "--disable-radix-cache",
        "--block-size": "--page-size",
    },
)
