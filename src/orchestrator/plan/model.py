"""The plan's records: what to run, named and labelled, in each runtime's neutral terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from orchestrator.config.fields import SecretRef
from orchestrator.names import LABEL_RUN, Role, Stack

SCRIPTS_MOUNT = "/opt/orchestrator/scripts"
CLIENT_RESULTS_DIR = "/root/bench_results"
DATASET_MOUNT = "/datasets"  # the user's dataset file appears here, under its own name
TRAIN_OUTPUT_DIR = "/root/train_output"
RENDEZVOUS_PORT = 29500  # torchrun's, between the pods of a multi-node trainer
# Kept off in every component: nothing should phone home from a benchmark.
QUIET_ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


def dataset_mount_path(dataset_path: str) -> str:
    """Where the client (or the trainer) reads the dataset file `workload.dataset_path` (or
    `trainer.dataset_path`) names."""
    return f"{DATASET_MOUNT}/{PurePosixPath(dataset_path).name}"


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


class VolumeSource(StrEnum):
    """What backs a mount (Volume says how each runtime makes it)."""

    model_cache = "model-cache"
    compile_cache = "compile-cache"
    scripts = "scripts"
    scratch = "scratch"
    dataset = "dataset"
    resume = "resume"


@dataclass(frozen=True)
class Volume:
    """A mount. `source` says what backs it, each runtime in its own way:

    - "model-cache": the weights cache: `host_path` on Docker/local; on Kubernetes the
      PersistentVolumeClaim `claim`, else the node folder `node_path`, else an emptyDir;
    - "compile-cache": the compile cache (torch.compile, Triton), as the weights cache;
    - "scripts": container_scripts/ (a bind mount, or a ConfigMap on Kubernetes);
    - "scratch": space that lives and dies with the component (on Kubernetes the claim
      `claim` when one is given, so that it outlives the pod);
    - "dataset": the user's dataset file `host_path`, read-only: a bind mount on Docker, the
      file itself on local; on Kubernetes the claim `claim` or the node folder `node_path`
      holding it, else a ConfigMap of its content;
    - "resume": a resumed training run's folder `host_path`, read-only: a bind mount on Docker,
      the folder itself on local; on Kubernetes an emptyDir the orchestrator fills with the
      entries `include` of that folder (the checkpoint, rollouts.log) before the trainer starts.
    """

    name: str
    mount_path: str
    source: VolumeSource
    host_path: str | None = None
    read_only: bool = False
    claim: str | None = None
    node_path: str | None = None
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class GpuRequest:
    """GPUs by count, or by ids when `ids` is set."""

    count: int = 0
    ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CopyLimits:
    """The most a copy from a component may bring home: per file and in all."""

    max_file_bytes: int = 2 * 1024**3
    max_total_bytes: int = 16 * 1024**3


@dataclass(frozen=True)
class Scope:
    """Which engine, and which part of it, a runtime acts on: the kubeconfig context and the
    namespace on Kubernetes; runtimes with one engine per host ignore it."""

    namespace: str = "default"
    context: str | None = None


@dataclass(frozen=True)
class Placement:
    """Where on a cluster the components may run, and whether to make their namespace."""

    create_namespace: bool = False
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, str | int]] = field(default_factory=list)


@dataclass
class Component:
    """One process to run: a container, a pod's container, or a host process."""

    role: Role
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
    memory_bytes: int | None = None  # killed (OOM) above this much memory
    nodes: int = 1
    served_model: str | None = None  # the name a server answers to in /v1/models
    # A model server's serving engine (serving/), for its endpoints: the rollout server (TRL's
    # `trl vllm-serve`) is vLLM's; the others serve no model.
    engine: str = "vllm"
    # Reaches this host by the runtime's host alias (Docker: host.docker.internal), where a
    # server the tool did not start runs.
    reaches_host: bool = False

    def volume(self, source: VolumeSource) -> Volume | None:
        """The first volume backed by `source` (None: the component has none)."""
        return next((v for v in self.volumes if v.source == source), None)

    def mount(self, source: VolumeSource) -> str:
        """Where the first volume backed by `source`, which the component has, is mounted."""
        volume = self.volume(source)
        assert volume is not None, f"{self.name} has no {source} volume"
        return volume.mount_path


@dataclass
class Plan:
    """Everything one stack of one project needs to run, in start order: no runtime needs the
    config beside it."""

    project: str
    stack: Stack
    network: str
    labels: dict[str, str]
    components: list[Component]
    scope: Scope = field(default_factory=Scope)
    placement: Placement = field(default_factory=Placement)
    copy_limits: CopyLimits = field(default_factory=CopyLimits)

    @property
    def run_id(self) -> str:
        """The run this plan was made for ("" for a plan made only to render)."""
        return self.labels.get(LABEL_RUN, "")

    def has(self, role: str) -> bool:
        """Whether the plan has a component with this role (no server when benchmarking a URL)."""
        return any(component.role == role for component in self.components)

    def component(self, role: str) -> Component:
        """The component with this role."""
        for component in self.components:
            if component.role == role:
                return component
        raise KeyError(role)

    def serving(self) -> Component | None:
        """The component that serves the model (the bench server or the rollout), if any."""
        return next((c for c in self.components if c.probe is not None), None)
