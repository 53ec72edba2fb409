"""The bench stack's plan: a model server (unless client.server_url is set) and a client."""

from __future__ import annotations

from urllib.parse import urlsplit

from orchestrator.config.fields import (
    COMPILE_CACHE_MOUNT,
    DEFAULT_VLLM_IMAGE,
    parse_size,
    plain_env,
    secret_env,
)
from orchestrator.config.model import StackSpec
from orchestrator.errors import ConfigError
from orchestrator.names import Role, Stack
from orchestrator.plan.common import (
    cache_volume,
    compile_cache_volume,
    component_labels,
    copy_limits_of,
    dataset_volume,
    health_probe,
    network_of,
    placement_of,
    project_labels,
    scope_of,
    service_host,
)
from orchestrator.plan.model import (
    CLIENT_RESULTS_DIR,
    QUIET_ENV,
    SCRIPTS_MOUNT,
    Component,
    GpuRequest,
    Plan,
    Port,
    Volume,
    VolumeSource,
    dataset_mount_path,
)
from orchestrator.runtimes import traits
from orchestrator.serving import engine_of


def server_url(spec: StackSpec, project: str) -> str:
    """The URL the client sends requests to."""
    assert spec.server is not None
    return (spec.client.server_url
            or f"http://{service_host(spec, project, Role.server)}:{spec.server.port}")


def build_bench_plan(spec: StackSpec, project: str, run_id: str | None = None) -> Plan:
    """Plan the bench stack: a vLLM server (unless client.server_url is set) and a client."""
    if spec.server is None:
        raise ConfigError(
            "the bench stack needs a server section (the model to serve and benchmark); add"
            " server: {model: ...}, or run `orchestrator up train` for the trainer"
        )
    labels = project_labels(project, "bench", run_id)
    components = [] if spec.client.server_url else [_server(spec, project, labels)]
    components.append(_client(spec, project, labels))
    return Plan(project=project, stack=Stack.bench, network=network_of(spec, project), labels=labels,
                components=components, scope=scope_of(spec), placement=placement_of(spec),
                copy_limits=copy_limits_of(spec))


def server_argv(spec: StackSpec) -> list[str]:
    """The server's command line, as its engine spells the config's fields (serving/)."""
    server = spec.server
    assert server is not None
    return engine_of(server.engine).argv(server)


def _server(spec: StackSpec, project: str, labels: dict[str, str]) -> Component:
    server = spec.server
    assert server is not None  # build_bench_plan refuses a config without one
    engine = engine_of(server.engine)
    return Component(
        role=Role.server,
        name=f"{project}-{Role.server}",
        image=server.image,
        argv=server_argv(spec),
        env={**QUIET_ENV, **engine.cache_env(COMPILE_CACHE_MOUNT), **plain_env(server.env)},
        labels=component_labels(labels, Role.server),
        secret_env=secret_env(server.env, server.hf_token),
        gpus=GpuRequest(
            count=server.gpu_count,
            ids=tuple(server.gpu_ids) if server.gpu_ids is not None else None,
        ),
        ports=[Port("http", server.port, server.host_port or server.port)],
        probe=health_probe(server.port, server.startup_timeout, engine.health_path),
        volumes=[cache_volume(spec, server.model_cache),
                 compile_cache_volume(spec, server.compile_cache)],
        shm_size_bytes=parse_size(server.shm_size),
        memory_bytes=parse_size(server.memory_limit) if server.memory_limit else None,
        nodes=server.nodes,
        served_model=server.model_name,
        engine=engine.name,
    )


def _client(spec: StackSpec, project: str, labels: dict[str, str]) -> Component:
    work = spec.workload
    assert spec.server is not None
    # The client's environment carries the config's defaults, so `run_benchmark.sh` run by hand
    # inside it benchmarks the same server and workload as `orchestrator up bench`.
    env = {
        **QUIET_ENV,
        "VLLM_SERVER_URL": server_url(spec, project),
        "MODEL": spec.server.model_name,
        # The served name may be an alias; the tokenizer is loaded from the real model.
        "TOKENIZER": spec.server.model,
        "NUM_PROMPTS": str(work.num_prompts),
        "INPUT_LEN": str(work.input_len),
        "OUTPUT_LEN": str(work.output_len),
        "RESULTS_DIR": CLIENT_RESULTS_DIR,
        # run_benchmark.sh by hand reads the same file (vLLM's own datasets only: it does not
        # replay conversations).
        **({"DATASET_NAME": work.dataset, "DATASET_PATH": dataset_mount_path(work.dataset_path)}
           if work.dataset_path and work.dataset in ("custom", "sharegpt") else {}),
        **plain_env(spec.client.env),
    }
    return Component(
        role=Role.client,
        name=f"{project}-{Role.client}",
        # `vllm bench serve` is in vLLM's image, not in another engine's.
        image=spec.client.image or (spec.server.image if spec.server.engine == "vllm"
                                    else DEFAULT_VLLM_IMAGE),
        argv=["sleep", "infinity"],
        env=env,
        labels=component_labels(labels, Role.client),
        reaches_host=_names_host_alias(spec),
        secret_env=secret_env(spec.client.env, spec.server.hf_token),
        volumes=[
            Volume(name="scripts", mount_path=SCRIPTS_MOUNT, source=VolumeSource.scripts, read_only=True),
            Volume(name="results", mount_path=CLIENT_RESULTS_DIR, source=VolumeSource.scratch),
            *dataset_volume(spec, spec.workload.dataset_path),
        ],
    )


def _names_host_alias(spec: StackSpec) -> bool:
    """Whether client.server_url names this host by the runtime's alias for it."""
    alias = traits(spec.runtime.kind).host_alias
    url = spec.client.server_url
    return alias is not None and url is not None and urlsplit(url).hostname == alias

