"""vLLM (`vllm serve`): the engine orchestrator started with and measures against."""

from __future__ import annotations

from orchestrator.serving.base import NodeLaunch, Server, ServingEngine, field_flags

MASTER_PORT = 29501  # the leader's torch.distributed rendezvous, pod to pod


def _launch(server: Server) -> list[str]:
    return ["vllm", "serve", server.model, "--host", "0.0.0.0", "--port", str(server.port)]


def _across_nodes(argv: list[str], nodes: int, cpu: bool) -> NodeLaunch:
    """vLLM's own multi-node launch (its mp executor, no Ray): every pod runs `vllm serve` with
    the group's size and the leader's address, the workers headless; tensor x pipeline parallel
    spans all their GPUs (on CPU, one worker per pod over gloo)."""
    group = ["--distributed-executor-backend", "mp", "--nnodes", str(nodes),
             "--master-addr", "$(LWS_LEADER_ADDRESS)", "--master-port", str(MASTER_PORT)]
    return NodeLaunch(
        leader=[*argv, *group, "--node-rank", "0"],
        worker=[*argv, *group, "--node-rank", "$(LWS_WORKER_INDEX)", "--headless"],
        # On CPU, tensor parallel's vocabulary lookup is a torch.compile'd function, which
        # needs a C++ compiler in the image (the CPU image has none): run it eagerly.
        env={"TORCHDYNAMO_DISABLE": "1"} if cpu else {},
    )


VLLM = ServingEngine(
    name="vllm",
    title="vLLM",
    launch=_launch,
    flags=field_flags({
        "model": "--model",  # `vllm serve MODEL`
        "port": "--port",
        "served_model_name": "--served-model-name",
        "tensor_parallel_size": ("--tensor-parallel-size", "-tp"),
        "pipeline_parallel_size": ("--pipeline-parallel-size", "-pp"),
        "max_model_len": "--max-model-len",
        "gpu_memory_utilization": "--gpu-memory-utilization",
        "dtype": "--dtype",
        "enforce_eager": "--enforce-eager",
        "max_num_seqs": "--max-num-seqs",
        "max_num_batched_tokens": "--max-num-batched-tokens",
    }),
    # V1 names; older servers call the KV-cache gauge gpu_cache_usage_perc.
    metrics={
        "running": ("vllm:num_requests_running",),
        "waiting": ("vllm:num_requests_waiting",),
        "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        "preemptions": ("vllm:num_preemptions_total",),
        "prefix_cache_queries": ("vllm:prefix_cache_queries_total",),
        "prefix_cache_hits": ("vllm:prefix_cache_hits_total",),
    },
    version_path="/version",
    # Answered only in vLLM's dev mode (VLLM_SERVER_DEV_MODE=1), which the tool never sets.
    reset_cache_path="/reset_prefix_cache",
    cache_env=lambda mount: {"VLLM_CACHE_ROOT": mount},
    foreign_flags={
        "--model-path": "server.model",
        "--tp-size": "server.tensor_parallel_size",
        "--pp-size": "server.pipeline_parallel_size",
        "--context-length": "server.max_model_len",
        "--mem-fraction-static": "server.gpu_memory_utilization",
        "--max-running-requests": "server.max_num_seqs",
        "--chunked-prefill-size": "server.max_num_batched_tokens",
        "--disable-cuda-graph": "server.enforce_eager",
        "--disable-radix-cache": "--no-enable-prefix-caching",
        "--max-total-tokens": "--kv-cache-memory-bytes (the KV cache in bytes, not tokens)",
    },
    across_nodes=_across_nodes,
    start_log=True,
)
