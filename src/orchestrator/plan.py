"""From a validated spec to a runtime-agnostic plan: what to run, named and labelled.

The plan decides names, labels, argv lists, environment, GPUs, ports, probes, volumes and shared
memory once; the renderers and runtimes only translate it into their own vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config.model import ModelCache, SecretRef, StackSpec, Trainer, parse_size
from orchestrator.errors import ConfigError

LABEL_PREFIX = "orchestrator."
SCRIPTS_MOUNT = "/opt/orchestrator/scripts"
CLIENT_RESULTS_DIR = "/root/bench_results"
TRAIN_OUTPUT_DIR = "/root/train_output"
RENDEZVOUS_PORT = 29500  # torchrun's, between the pods of a multi-node trainer
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


def service_host(spec: StackSpec, project: str, role: str) -> str:
    """How other components reach a component: its container or Service name, or, for host
    processes (the local runtime), this host's loopback."""
    return "127.0.0.1" if spec.runtime.kind == "local" else f"{project}-{role}"


def server_url(spec: StackSpec, project: str) -> str:
    """The URL the client sends requests to."""
    assert spec.server is not None
    return spec.client.server_url or f"http://{service_host(spec, project, 'server')}:{spec.server.port}"


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
    network = spec.runtime.docker.network or f"{project}-net"
    return Plan(project=project, stack="bench", network=network, labels=labels, components=components)


def build_train_plan(spec: StackSpec, project: str, run_id: str | None = None) -> Plan:
    """Plan the train stack: the rollout server (generation: server), then the trainer."""
    trainer = spec.trainer
    if trainer is None:
        raise ConfigError(
            "the train stack needs a trainer section (the model and GRPO settings); add"
            " trainer: {model: ...}, or run `orchestrator up bench` for the server"
        )
    labels = project_labels(project, "train", run_id)
    rollout_gpus, trainer_gpus = split_gpus(trainer, pin=spec.runtime.kind != "kubernetes")
    components = []
    if trainer.rollout is not None:
        components.append(_rollout(trainer, project, labels, rollout_gpus))
    rollout_url = (f"http://{service_host(spec, project, 'rollout')}:{trainer.rollout.port}"
                   if trainer.rollout else None)
    components.append(_trainer(trainer, project, labels, trainer_gpus, rollout_url))
    network = spec.runtime.docker.network or f"{project}-net"
    return Plan(project=project, stack="train", network=network, labels=labels, components=components)


def build_plan(stack: str, spec: StackSpec, project: str, run_id: str | None = None) -> Plan:
    """Plan the named stack."""
    if stack == "train":
        return build_train_plan(spec, project, run_id)
    return build_bench_plan(spec, project, run_id)


def split_gpus(trainer: Trainer, pin: bool) -> tuple[GpuRequest, GpuRequest]:
    """(rollout, trainer) GPU requests. With `pin` (one host: Docker, local), counts become ids
    laid side by side, rollout first, so that the two never land on the same GPU; Kubernetes
    hands each pod its own GPUs by count."""
    rollout = trainer.rollout
    asked = [(rollout.gpu_count, rollout.gpu_ids) if rollout else (0, None),
             (trainer.gpu_count, trainer.gpu_ids)]
    if not pin:
        return GpuRequest(count=asked[0][0]), GpuRequest(count=asked[1][0])
    taken = {gpu for _, ids in asked if ids for gpu in ids}
    requests = []
    for count, ids in asked:
        if ids is None and count:
            free = (gpu for gpu in range(len(taken) + count + 1) if gpu not in taken)
            ids = [next(free) for _ in range(count)]
            taken.update(ids)
        requests.append(GpuRequest(count=count, ids=tuple(ids) if ids else None))
    return requests[0], requests[1]


def server_argv(spec: StackSpec) -> list[str]:
    """The `vllm serve` command line for the server."""
    server = spec.server
    assert server is not None
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


def _cache_volume(cache: ModelCache) -> Volume:
    return Volume(
        name="model-cache",
        mount_path=cache.mount_path,
        source="model-cache",
        host_path=str(Path(cache.host_path).expanduser()) if cache.host_path else None,
    )


def _health_probe(port: int, budget_s: int) -> HttpProbe:
    return HttpProbe(path="/health", port=port, period_s=10, timeout_s=5, startup_budget_s=budget_s)


def _server(spec: StackSpec, project: str, labels: dict[str, str]) -> Component:
    server = spec.server
    assert server is not None  # build_bench_plan refuses a config without one
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
        probe=_health_probe(server.port, server.startup_timeout),
        volumes=[_cache_volume(server.model_cache)],
        shm_size_bytes=parse_size(server.shm_size),
        nodes=server.nodes,
        served_model=server.model_name,
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


def rollout_argv(trainer: Trainer) -> list[str]:
    """The `trl vllm-serve` command line for the rollout server."""
    rollout = trainer.rollout
    assert rollout is not None
    argv = ["trl", "vllm-serve", "--model", trainer.model, "--host", "0.0.0.0",
            "--port", str(rollout.port),
            "--tensor-parallel-size", str(rollout.tensor_parallel_size),
            "--gpu-memory-utilization", str(rollout.gpu_memory_utilization),
            "--dtype", rollout.dtype]  # fmt: skip
    if rollout.max_model_len is not None:
        argv += ["--max-model-len", str(rollout.max_model_len)]
    if rollout.enforce_eager:
        argv.append("--enforce-eager")
    return argv + list(rollout.extra_args)


def trainer_argv(trainer: Trainer, project: str, rollout_url: str | None) -> list[str]:
    """The training command: train_grpo.py, under torchrun when it spans GPUs or nodes."""
    script = f"{SCRIPTS_MOUNT}/train_grpo.py"
    if trainer.nodes > 1:
        # Each pod of the indexed Job is one node; pod 0 hosts the rendezvous.
        name = f"{project}-trainer"
        launcher = ["torchrun", "--nnodes", str(trainer.nodes),
                    "--nproc-per-node", str(trainer.gpu_count), "--node-rank", "$(NODE_RANK)",
                    "--master-addr", f"{name}-0.{name}", "--master-port", str(RENDEZVOUS_PORT)]
    elif trainer.gpu_count > 1 or trainer.generation == "colocate":
        # Colocated vLLM joins torch.distributed (its external launcher), even on one GPU.
        launcher = ["torchrun", "--standalone", "--nproc-per-node", str(trainer.gpu_count)]
    else:
        launcher = ["python3"]
    argv = [*launcher, script,
            "--model", trainer.model,
            "--dataset", trainer.dataset,
            *(arg for reward in trainer.rewards for arg in ("--reward", reward)),
            "--learning-rate", str(trainer.learning_rate),
            "--beta", str(trainer.beta),
            "--num-generations", str(trainer.num_generations),
            "--per-device-batch-size", str(trainer.per_device_batch_size),
            "--gradient-accumulation-steps", str(trainer.gradient_accumulation_steps),
            "--max-prompt-length", str(trainer.max_prompt_length),
            "--max-completion-length", str(trainer.max_completion_length),
            "--temperature", str(trainer.temperature),
            "--length-target-words", str(trainer.length_target_words),
            "--max-steps", str(trainer.max_steps),
            "--logging-steps", str(trainer.logging_steps),
            "--save-steps", str(trainer.save_steps),
            "--seed", str(trainer.seed),
            "--output-dir", TRAIN_OUTPUT_DIR,
            "--generation", trainer.generation]  # fmt: skip
    if trainer.rollout is not None and rollout_url:
        argv += ["--vllm-server-url", rollout_url,
                 "--vllm-group-port", str(trainer.rollout.group_port)]
    if trainer.log_raw_output:
        argv.append("--log-raw-output")
    return argv


def _rollout(trainer: Trainer, project: str, labels: dict[str, str], gpus: GpuRequest) -> Component:
    rollout = trainer.rollout
    assert rollout is not None
    return Component(
        role="rollout",
        name=f"{project}-rollout",
        image=rollout.image or trainer.image,
        argv=rollout_argv(trainer),
        env={**QUIET_ENV, **rollout.env},
        labels={**labels, f"{LABEL_PREFIX}component": "rollout"},
        secret_env={"HF_TOKEN": trainer.hf_token} if trainer.hf_token else {},
        gpus=gpus,
        ports=[Port("http", rollout.port, rollout.host_port or rollout.port)],
        probe=_health_probe(rollout.port, rollout.startup_timeout),
        volumes=[_cache_volume(trainer.model_cache)],
        shm_size_bytes=parse_size(rollout.shm_size),
    )


def _trainer(trainer: Trainer, project: str, labels: dict[str, str], gpus: GpuRequest,
             rollout_url: str | None) -> Component:
    ports = []
    if trainer.rollout is not None:
        # The trainer is rank 0 of the weight-sync group: the rollout server connects to it.
        ports.append(Port("weight-sync", trainer.rollout.group_port))
    if trainer.nodes > 1:
        ports.append(Port("rendezvous", RENDEZVOUS_PORT))
    return Component(
        role="trainer",
        name=f"{project}-trainer",
        image=trainer.image,
        argv=trainer_argv(trainer, project, rollout_url),
        env={**QUIET_ENV, **trainer.env},
        labels={**labels, f"{LABEL_PREFIX}component": "trainer"},
        secret_env={"HF_TOKEN": trainer.hf_token} if trainer.hf_token else {},
        gpus=gpus,
        ports=ports,
        volumes=[
            Volume(name="scripts", mount_path=SCRIPTS_MOUNT, source="scripts", read_only=True),
            Volume(name="output", mount_path=TRAIN_OUTPUT_DIR, source="scratch"),
            _cache_volume(trainer.model_cache),
        ],
        shm_size_bytes=parse_size(trainer.shm_size),
        nodes=trainer.nodes,
    )
