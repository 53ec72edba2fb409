"""The shape of an orchestrator config file (pydantic v2).

Only single-field rules live here (types, ranges, allowed values); rules that relate several
fields are in `checks.py`, so that each can say in the user's words which fields to change.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from orchestrator.resources import data_dir


def _pinned_vllm_image() -> str:
    # images/vllm-image.txt is the one place the official image's tag is pinned.
    return (data_dir("images") / "vllm-image.txt").read_text(encoding="utf-8").strip()


DEFAULT_VLLM_IMAGE = _pinned_vllm_image()

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SIZE = re.compile(r"^(\d+)([kmg]?)b?$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """Return the byte count of a Docker-style size such as `16g`, `512m` or `1048576`."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError("is not a size; write it like 1g, 512m or 16g")
    return int(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _env_text(value: object) -> object:
    # YAML turns `VLLM_LOGGING_LEVEL: 1` into an int; an environment only holds text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_env_text)]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
PositiveInt = Annotated[int, Field(ge=1)]


def _check_gpus(value: int | list[int]) -> int | list[int]:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must be 0 (CPU) or more")
        return value
    if not value:
        raise ValueError("is an empty list: give GPU ids such as [0, 1], or a count")
    if any(gpu < 0 for gpu in value):
        raise ValueError("GPU ids are 0 or more")
    if len(set(value)) != len(value):
        raise ValueError("lists a GPU id twice")
    return value


def _check_fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError("must be in (0, 1]: a fraction of each GPU's memory, such as 0.9")
    return value


def _check_shm(value: str) -> str:
    if parse_size(value) < 1024**3:
        raise ValueError("is below 1g: vLLM needs at least 1g of /dev/shm")
    return value


# A GPU request: a count, or the ids of the GPUs to use.
Gpus = Annotated[int | list[int], AfterValidator(_check_gpus)]
MemoryFraction = Annotated[float, AfterValidator(_check_fraction)]
ShmSize = Annotated[str, AfterValidator(_check_shm)]


class GpuCounting:
    """`gpu_count` and `gpu_ids` for sections with a `gpus` field (a count or a list of ids)."""

    @property
    def gpu_count(self) -> int:
        """How many GPUs this part uses (on each node)."""
        gpus = self.gpus  # type: ignore[attr-defined]
        return gpus if isinstance(gpus, int) else len(gpus)

    @property
    def gpu_ids(self) -> list[int] | None:
        """The GPU ids asked for by id, or None when only a count was given."""
        gpus = self.gpus  # type: ignore[attr-defined]
        return None if isinstance(gpus, int) else list(gpus)


class SecretRef(Section):
    """A secret passed by reference: the value never appears in rendered files or results."""

    from_env: str = Field(
        "HF_TOKEN",
        description="Docker/local runtimes: host environment variable that holds the value.",
    )
    k8s_secret: str = Field("hf-token", description="Kubernetes: the Secret holding the value.")
    k8s_key: str = Field("token", description="Kubernetes: the key inside that Secret.")


class ModelCache(Section):
    """Where downloaded weights persist between runs (Kubernetes: see runtime.kubernetes)."""

    mount_path: str = Field(
        "/root/.cache/huggingface", description="Path inside the server container."
    )
    host_path: str | None = Field(
        "~/.cache/huggingface",
        description="Docker/local: host folder mounted at mount_path; null for none.",
    )


class KubernetesSettings(Section):
    """Settings used when runtime.kind is kubernetes."""

    namespace: str = "default"
    create_namespace: bool = False
    context: str | None = Field(None, description="kubeconfig context; default: current.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, str | int]] = Field(default_factory=list)
    model_cache_pvc: str | None = Field(
        None, description="An existing PersistentVolumeClaim for the model cache (preferred)."
    )
    model_cache_host_path: str | None = Field(
        None, description="A node folder for the model cache; with neither, an emptyDir."
    )
    train_output_pvc: str | None = Field(
        None, description="An existing PersistentVolumeClaim for the trainer's output (the"
        " model, metrics); with none, an emptyDir that goes with the pod."
    )

    @field_validator("model_cache_host_path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be an absolute path on the node, such as /data/hf-cache")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace_is_dns_label(cls, value: str) -> str:
        if not _DNS_LABEL.match(value) or len(value) > 63:
            raise ValueError(
                "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"
            )
        return value


class DockerSettings(Section):
    """Settings used when runtime.kind is docker."""

    network: str | None = Field(None, description="Bridge network; default '<project>-net'.")


class Runtime(Section):
    """Where the stack runs."""

    kind: Literal["docker", "kubernetes", "local"] = "docker"
    docker: DockerSettings = Field(default_factory=DockerSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)


Dtype = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]


def _model_not_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: name a Hugging Face model id or a path inside the image")
    return value


ModelName = Annotated[str, AfterValidator(_model_not_empty)]


class Server(GpuCounting, Section):
    """The vLLM server (`vllm serve`)."""

    image: str = DEFAULT_VLLM_IMAGE
    model: ModelName = Field(description="Hugging Face id or a path inside the image.")
    served_model_name: str | None = Field(None, description="Default: the model.")
    port: PortNumber = 8000
    host_port: PortNumber | None = Field(
        None, description="Docker: host port to publish the API on; default: server.port."
    )
    gpus: Gpus = Field(
        1, description="A count, or a list of GPU ids; 0 for CPU. Per node when nodes > 1."
    )
    nodes: PositiveInt = Field(
        1, description="Kubernetes: nodes for one server (a LeaderWorkerSet joined by Ray)."
    )
    tensor_parallel_size: PositiveInt = 1
    pipeline_parallel_size: PositiveInt = 1
    max_model_len: PositiveInt | None = None
    gpu_memory_utilization: MemoryFraction = 0.9
    dtype: Dtype = "auto"
    enforce_eager: bool = False
    max_num_seqs: PositiveInt | None = None
    max_num_batched_tokens: PositiveInt | None = None
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    hf_token: SecretRef | None = Field(
        default_factory=SecretRef,
        description="HF_TOKEN passed by reference; null to pass none.",
    )
    model_cache: ModelCache = Field(default_factory=ModelCache)
    shm_size: ShmSize = Field("16g", description="Shared memory (/dev/shm); at least 1g.")
    startup_timeout: PositiveInt = Field(900, description="Seconds to wait for /health.")

    @property
    def total_gpus(self) -> int:
        """GPUs across all of the server's nodes."""
        return self.gpu_count * self.nodes

    @property
    def model_name(self) -> str:
        """The name clients use in requests."""
        return self.served_model_name or self.model


class Client(Section):
    """The benchmark client container."""

    image: str | None = Field(None, description="Default: the server image (it has `vllm bench`).")
    tool: Literal["vllm-bench"] = "vllm-bench"
    server_url: str | None = Field(
        None, description="Benchmark this URL instead of starting a server (VLLM_SERVER_URL)."
    )
    env: dict[str, EnvValue] = Field(default_factory=dict)

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value


class ConcurrencyRange(Section):
    """Concurrency from min to max, adding step each time."""

    min: PositiveInt = 1
    max: PositiveInt
    step: PositiveInt = 1


class Slo(Section):
    """Service-level objectives in milliseconds; requests meeting all of them count as goodput."""

    ttft_ms: Annotated[float, Field(gt=0)] | None = None
    tpot_ms: Annotated[float, Field(gt=0)] | None = None
    e2el_ms: Annotated[float, Field(gt=0)] | None = None


class Workload(Section):
    """What the benchmark sends (`vllm bench serve`)."""

    dataset: Literal["random", "sharegpt", "sonnet", "custom"] = "random"
    dataset_path: str | None = Field(None, description="Path inside the client; not for random.")
    input_len: PositiveInt = 256
    output_len: PositiveInt = 128
    num_prompts: PositiveInt = 20
    concurrency: list[int] | ConcurrencyRange = Field(
        default_factory=lambda: [1, 2, 4, 8, 16, 32],
        description="A list such as [1, 4, 8], or {min, max, step}.",
    )
    request_rate: float | Literal["inf"] = "inf"
    temperature: Annotated[float, Field(ge=0)] = 0.0
    ignore_eos: bool = True
    seed: int = 0
    slo: Slo = Field(default_factory=Slo)

    @field_validator("concurrency")
    @classmethod
    def _concurrency(cls, value: list[int] | ConcurrencyRange) -> list[int] | ConcurrencyRange:
        if isinstance(value, list):
            if not value:
                raise ValueError("is empty: give at least one concurrency, such as [1]")
            low = [c for c in value if c < 1]
            if low:
                raise ValueError(f"has {low[0]}: every concurrency must be 1 or more")
        return value

    @field_validator("request_rate")
    @classmethod
    def _rate(cls, value: float | str) -> float | str:
        if value != "inf" and value <= 0:  # type: ignore[operator]
            raise ValueError("must be above 0 requests/s, or 'inf' to send all at once")
        return value

    @property
    def concurrency_points(self) -> list[int]:
        """The sweep's concurrency values in order."""
        if isinstance(self.concurrency, list):
            return list(self.concurrency)
        return list(range(self.concurrency.min, self.concurrency.max + 1, self.concurrency.step))


DEFAULT_TRAINER_IMAGE = "orchestrator-vllm-gpu:local"  # host_scripts/build_images.sh gpu


class Rollout(GpuCounting, Section):
    """The rollout server the trainer generates with (`trl vllm-serve`, trainer.generation: server)."""

    image: str | None = Field(None, description="Default: trainer.image (it has TRL and vLLM).")
    gpus: Gpus = Field(1, description="A count, or a list of GPU ids; the trainer gets others.")
    port: PortNumber = 8000
    host_port: PortNumber | None = Field(
        None, description="Docker/local: host port for its API; default: rollout.port."
    )
    group_port: PortNumber = Field(
        51216, description="The weight-sync (NCCL) group port; the trainer listens on it."
    )
    tensor_parallel_size: PositiveInt = 1
    max_model_len: PositiveInt | None = None
    gpu_memory_utilization: MemoryFraction = 0.9
    dtype: Dtype = "auto"
    enforce_eager: bool = False
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    shm_size: ShmSize = "16g"
    startup_timeout: PositiveInt = Field(900, description="Seconds to wait for /health.")


class Trainer(GpuCounting, Section):
    """GRPO training with TRL (container_scripts/train_grpo.py)."""

    image: str = Field(DEFAULT_TRAINER_IMAGE, description="An image with TRL; see images/gpu.")
    model: ModelName = Field(description="Hugging Face id or a path inside the image.")
    dataset: str = Field("toy", description="A JSONL file in the image (a 'prompt' per line), or toy.")
    rewards: list[str] = Field(
        default_factory=lambda: ["json_valid", "length_penalty"],
        description="json_valid, length_penalty, or module:function importable in the trainer.",
    )
    learning_rate: Annotated[float, Field(gt=0)] = 1e-6
    beta: Annotated[float, Field(ge=0)] = Field(0.04, description="KL coefficient.")
    num_generations: Annotated[int, Field(ge=2)] = Field(4, description="Completions per prompt.")
    per_device_batch_size: PositiveInt = 4
    gradient_accumulation_steps: PositiveInt = 1
    max_prompt_length: PositiveInt = 256
    max_completion_length: PositiveInt = Field(
        128, description="Tokens per completion (the MAX_TOKENS environment variable sets it)."
    )
    temperature: Annotated[float, Field(gt=0)] = 1.0
    length_target_words: PositiveInt = Field(50, description="length_penalty's free length.")
    max_steps: PositiveInt = 10
    logging_steps: PositiveInt = 1
    save_steps: Annotated[int, Field(ge=0)] = Field(0, description="0: only the final model.")
    seed: int = 0
    log_raw_output: bool = Field(False, description="Log completions' text beside timing lines.")
    generation: Literal["server", "colocate", "plain"] = Field(
        "server",
        description="server: a paired rollout server; colocate: vLLM in the trainer;"
        " plain: the model's own generate (CPU).",
    )
    gpus: Gpus = Field(1, description="A count, or a list of GPU ids; 0 for CPU. Per node.")
    nodes: PositiveInt = Field(1, description="Kubernetes: trainer pods (an indexed Job).")
    env: dict[str, EnvValue] = Field(default_factory=dict)
    hf_token: SecretRef | None = Field(
        default_factory=SecretRef, description="HF_TOKEN passed by reference; null for none."
    )
    model_cache: ModelCache = Field(default_factory=ModelCache)
    shm_size: ShmSize = "16g"
    rollout: Rollout | None = Field(None, description="Required with generation: server.")
    results_dir: str = "train_results"

    @property
    def processes(self) -> int:
        """Training processes: one per GPU on each node (one on CPU)."""
        return max(self.gpu_count, 1) * self.nodes


class StackSpec(Section):
    """A whole orchestrator config file: a server to benchmark, a trainer, or both."""

    name: str | None = Field(None, description="Project name; default: the config's folder.")
    runtime: Runtime = Field(default_factory=Runtime)
    server: Server | None = Field(None, description="The bench stack's vLLM server.")
    client: Client = Field(default_factory=Client)
    workload: Workload = Field(default_factory=Workload)
    results_dir: str = "bench_results"
    trainer: Trainer | None = Field(None, description="The train stack (GRPO).")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (not _DNS_LABEL.match(value) or len(value) > 40):
            raise ValueError(
                "must be lowercase letters, digits and '-', at most 40 characters"
                " (it prefixes container, pod and network names)"
            )
        return value

