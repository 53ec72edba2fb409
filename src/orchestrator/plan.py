"""From a validated spec to a runtime-agnostic plan: what to run, named and labelled.

The plan decides names, labels, argv lists, environment, GPUs, ports, probes, volumes and shared
memory once; the renderers and runtimes only translate it into their own vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config.model import SecretRef, StackSpec, parse_size
from orchestrator.errors import NotImplementedYet

LABEL_PREFIX = "orchestrator."
SCRIPTS_MOUNT = "/opt/orchestrator/scripts"
CLIENT_RESULTS_DIR = "/root/bench_results"
# Kept off in every component: nothing should phone home from a benchmark.
QUIET_ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


@dataclass(frozen=True)
class HttpProbe:
    """An HTTP GET that answers 200 when the component is ready."""

    path: str
    port: int
    period_s: int
    timeout_s: int
    startup_budget_s: int


@dataclass(frozen=True)
class Port:
    """A container port, published on the host as `host_port` when set."""

    name: str
    container_port: int
    host_port: int | None = None


@dataclass(frozen=True)
class Volume:
    """A mount. `source` says what backs it, each runtime in its own way:

    - "model-cache": the weights cache; `host_path` on Docker/local, a PVC, hostPath or
      emptyDir on Kubernetes (runtime.kubernetes settings);
    - "scripts": container_scripts/ (a bind mount, or a ConfigMap on Kubernetes);
    - "scratch": space that lives and dies with the component.
    """

    name: str
    mount_path: str
    source: str
    host_path: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class GpuRequest:
    """GPUs by count, or by ids when `ids` is set."""

    count: int = 0
    ids: tuple[int, ...] | None = None


@dataclass
class Component:
    """One process to run: a container, a pod's container, or a host process."""

    role: str
    name: str
    image: str
    argv: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    secret_env: dict[str, SecretRef] = field(default_factory=dict)
    gpus: GpuRequest = field(default_factory=GpuRequest)
    ports: list[Port] = field(default_factory=list)
    probe: HttpProbe | None = None
    volumes: list[Volume] = field(default_factory=list)
    shm_size_bytes: int | None = None
    nodes: int = 1
    served_model: str | None = None  # the name a server answers to in /v1/models


@dataclass
class Plan:
    """Everything one stack of one project needs, in start order."""

    project: str
    stack: str
    network: str
    labels: dict[str, str]
    components: list[Component]

    def has(self, role: str) -> bool:
        """Whether the plan has a component with this role (no server when benchmarking a URL)."""
        return any(component.role == role for component in self.components)

    def component(self, role: str) -> Component:
        """The component with this role."""
        for component in self.components:
            if component.role == role:
                return component
        raise KeyError(role)


def project_labels(project: str, stack: str, run_id: str | None = None) -> dict[str, str]:
    """Labels that mark what orchestrator owns; `ps`, `logs` and `down` select by them."""
    labels = {f"{LABEL_PREFIX}project": project, f"{LABEL_PREFIX}stack": stack}
    if run_id:
        labels[f"{LABEL_PREFIX}run"] = run_id
    return labels


def server_url(spec: StackSpec, project: str) -> str:
    """The URL the client sends requests to."""
    return spec.client.server_url or f"http://{project}-server:{spec.server.port}"


def build_bench_plan(spec: StackSpec, project: str, run_id: str | None = None) -> Plan:
    """Plan the bench stack: a vLLM server (unless client.server_url is set) and a client."""
    labels = project_labels(project, "bench", run_id)
    components = [] if spec.client.server_url else [_server(spec, project, labels)]
    components.append(_client(spec, project, labels))
    network = spec.runtime.docker.network or f"{project}-net"
    return Plan(project=project, stack="bench", network=network, labels=labels, components=components)


def build_plan(stack: str, spec: StackSpec, project: str, run_id: str | None = None) -> Plan:
    """Plan the named stack."""
    if stack == "bench":
        return build_bench_plan(spec, project, run_id)
    raise NotImplementedYet(
        f"the {stack} stack is not implemented yet; `orchestrator render bench` is available"
    )


def server_argv(spec: StackSpec) -> list[str]:
    """The `vllm serve` command line for the server."""
    server = spec.server
    argv = ["vllm", "serve", server.model, "--host", "0.0.0.0", "--port", str(server.port)]
    if server.served_model_name:
        argv += ["--served-model-name", server.served_model_name]
    argv += ["--tensor-parallel-size", str(server.tensor_parallel_size)]
    argv += ["--pipeline-parallel-size", str(server.pipeline_parallel_size)]
    if server.max_model_len is not None:
        argv += ["--max-model-len", str(server.max_model_len)]
    if server.gpu_count > 0:
        argv += ["--gpu-memory-utilization", str(server.gpu_memory_utilization)]
    argv += ["--dtype", server.dtype]
    if server.enforce_eager:
        argv.append("--enforce-eager")
    if server.max_num_seqs is not None:
        argv += ["--max-num-seqs", str(server.max_num_seqs)]
    if server.max_num_batched_tokens is not None:
        argv += ["--max-num-batched-tokens", str(server.max_num_batched_tokens)]
    return argv + list(server.extra_args)


def _server(spec: StackSpec, project: str, labels: dict[str, str]) -> Component:
    server = spec.server
    cache = server.model_cache
    cache_volume = Volume(
        name="model-cache",
        mount_path=cache.mount_path,
        source="model-cache",
        host_path=str(Path(cache.host_path).expanduser()) if cache.host_path else None,
    )
    return Component(
        role="server",
        name=f"{project}-server",
        image=server.image,
        argv=server_argv(spec),
        env={**QUIET_ENV, **server.env},
        labels={**labels, f"{LABEL_PREFIX}component": "server"},
        secret_env={"HF_TOKEN": server.hf_token} if server.hf_token else {},
        gpus=GpuRequest(
            count=server.gpu_count,
            ids=tuple(server.gpu_ids) if server.gpu_ids is not None else None,
        ),
        ports=[Port("http", server.port, server.host_port or server.port)],
        probe=HttpProbe(
            path="/health",
            port=server.port,
            period_s=10,
            timeout_s=5,
            startup_budget_s=server.startup_timeout,
        ),
        volumes=[cache_volume],
        shm_size_bytes=parse_size(server.shm_size),
        nodes=server.nodes,
        served_model=server.model_name,
    )


def _client(spec: StackSpec, project: str, labels: dict[str, str]) -> Component:
    work = spec.workload
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
        **spec.client.env,
    }
    return Component(
        role="client",
        name=f"{project}-client",
        image=spec.client.image or spec.server.image,
        argv=["sleep", "infinity"],
        env=env,
        labels={**labels, f"{LABEL_PREFIX}component": "client"},
        secret_env={"HF_TOKEN": spec.server.hf_token} if spec.server.hf_token else {},
        volumes=[
            Volume(name="scripts", mount_path=SCRIPTS_MOUNT, source="scripts", read_only=True),
            Volume(name="results", mount_path=CLIENT_RESULTS_DIR, source="scratch"),
        ],
    )
