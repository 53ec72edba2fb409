"""The shape of an orchestrator config file (pydantic v2): the bench stack's
server, client and workload, and the whole file.

Only single-field rules live here (types, ranges, allowed values); rules that relate several
fields are in `checks.py`, so that each can say in the user's words which fields to change.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from orchestrator.config.fields import (
    DEFAULT_SGLANG_IMAGE,
    DEFAULT_VLLM_IMAGE,
    DNS_LABEL,
    CompileCache,
    Dtype,
    EnvEntry,
    EnvName,
    GpuCounting,
    Gpus,
    Hardware,
    MemoryFraction,
    MemorySize,
    ModelCache,
    ModelName,
    NonEmpty,
    PortNumber,
    PositiveInt,
    SecretRef,
    Section,
    Seed,
    ShmSize,
    StartupSeconds,
)
from orchestrator.config.runtime_section import Runtime
from orchestrator.config.trainer import Trainer
from orchestrator.serving import ENGINE_NAMES


class Server(GpuCounting, Section):
    """The model server: vLLM (`vllm serve`) or SGLang (serving/ maps the fields to flags)."""

    engine: Literal[ENGINE_NAMES] = Field(  # type: ignore[valid-type]  # the registry's names
        "vllm", description="The serving engine: vllm or sglang.")
    image: NonEmpty = Field(DEFAULT_VLLM_IMAGE,
                            description="Default: the engine's official image (images/*-image.txt).")
    model: ModelName = Field(description="Hugging Face id or a path inside the image.")
    served_model_name: NonEmpty | None = Field(None, description="Default: the model.")
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
    env: dict[EnvName, EnvEntry] = Field(
        default_factory=dict, description="Text, or a secret by reference: {from_env: NAME}.")
    hf_token: SecretRef | None = Field(
        default_factory=SecretRef,
        description="HF_TOKEN passed by reference; null to pass none.",
    )
    model_cache: ModelCache = Field(default_factory=ModelCache)
    compile_cache: CompileCache = Field(default_factory=CompileCache)
    shm_size: ShmSize = Field("16g", description="Shared memory (/dev/shm); at least 1g.")
    memory_limit: MemorySize | None = Field(
        None, description="Memory the server may use before it is killed (Docker's mem_limit,"
        " Kubernetes' resources.limits.memory), e.g. 48g; none by default.")
    startup_timeout: StartupSeconds = Field(900, description="Seconds to wait for /health.")
    hardware: Hardware = Field(default_factory=Hardware)

    @model_validator(mode="after")
    def _engine_image(self) -> Server:
        # The default image is the engine's own: SGLang's has no `vllm serve`.
        if self.engine == "sglang" and "image" not in self.model_fields_set:
            self.image = DEFAULT_SGLANG_IMAGE
        return self

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

    image: NonEmpty | None = Field(None, description="Default: the server image (it has `vllm bench`).")
    tool: Literal["vllm-bench"] = "vllm-bench"
    server_url: str | None = Field(
        None, description="Benchmark this URL instead of starting a server (VLLM_SERVER_URL)."
    )
    env: dict[EnvName, EnvEntry] = Field(
        default_factory=dict, description="Text, or a secret by reference: {from_env: NAME}.")

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value


MAX_POINTS = 1000  # sweep points in one run
MAX_CONCURRENCY = 100_000  # requests in flight at once
MAX_WARMUP_PROMPTS = 10_000
MIN_WARMUP_PROMPTS = 4  # the default warm-up: the first point's concurrency, at least this
DEFAULT_PROMPTS_PER_SLOT = 4  # a point's prompts per concurrency slot, at least
MAX_PROMPTS_PER_SLOT = 1000


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
    attainment: Annotated[float, Field(gt=0, le=1)] = Field(
        0.9, description="The share of requests that must meet every SLO for a point to pass"
        " (capacity is the highest concurrency that passes).")


class Workload(Section):
    """What the benchmark sends (`vllm bench serve`)."""

    dataset: Literal["random", "custom", "sharegpt", "conversations"] = Field(
        "random", description="random tokens; or prompts from dataset_path: custom (JSONL with"
        " a 'prompt' per line), sharegpt (ShareGPT JSON), conversations (JSONL of chats replayed"
        " turn by turn; num_prompts conversations).")
    dataset_path: str | None = Field(
        None, description="A file on this machine (relative to the current folder); it reaches"
        " the client on every runtime. Not for random.")
    replay: Literal["live", "recorded"] = Field(
        "live", description="conversations: the history sent with each user turn holds the"
        " server's own answers (live) or the file's assistant turns (recorded: every run sends"
        " the same prompts).")
    warmup_prompts: Annotated[int, Field(ge=0, le=MAX_WARMUP_PROMPTS)] | None = Field(
        None, description="Requests sent before each started server's first point, at its"
        " concurrency, measured and reported apart (cold start: compilation, caches). Default:"
        f" the first point's concurrency, at least {MIN_WARMUP_PROMPTS}; 0: none (the first"
        " point is then flagged cold).")
    fresh_prompts: bool = Field(
        True, description="Every point (and repeat, and the warm-up) gets prompts of its own"
        " (its own seed, derived from seed), so no point measures prefill the server cached at"
        " an earlier one; every server variant gets the same prompts at the same point. false:"
        " one seed for all points. Not for conversations, whose shared history is the point.")
    min_prompts_per_slot: Annotated[int, Field(ge=0, le=MAX_PROMPTS_PER_SLOT)] = Field(
        DEFAULT_PROMPTS_PER_SLOT, description="A point sends at least this many prompts per"
        " concurrency slot (max(num_prompts, this x concurrency)), so it holds its concurrency"
        " long enough for a steady window between ramp-up and ramp-down; 0: exactly"
        " num_prompts. Not for conversations.")
    input_len: PositiveInt = 256
    output_len: PositiveInt = 128
    num_prompts: PositiveInt = 20
    concurrency: list[int] | ConcurrencyRange = Field(
        default_factory=lambda: [1, 2, 4, 8, 16, 32],
        description="A list such as [1, 4, 8], or {min, max, step}.",
    )
    request_rate: float | Literal["inf"] = "inf"
    arrivals: Literal["poisson", "constant"] = Field(
        "poisson", description="With a request_rate: Poisson arrivals, or constant intervals"
        " (vLLM's --burstiness, very large).")
    temperature: Annotated[float, Field(ge=0)] = 0.0
    ignore_eos: bool = True
    seed: Seed = 0
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
            high = [c for c in value if c > MAX_CONCURRENCY]
            if high:
                raise ValueError(f"has {high[0]}: a concurrency is at most {MAX_CONCURRENCY}")
            count = len(value)
        else:
            count = max(0, (value.max - value.min) // value.step + 1)
        if count > MAX_POINTS:
            raise ValueError(f"makes {count} sweep points; a sweep has at most {MAX_POINTS}"
                             " (take a larger step or fewer values)")
        return value

    @field_validator("request_rate")
    @classmethod
    def _rate(cls, value: float | str) -> float | str:
        if value != "inf" and value <= 0:  # type: ignore[operator]
            raise ValueError("must be above 0 requests/s, or 'inf' to send all at once")
        return value

    @property
    def fresh_per_point(self) -> bool:
        """Whether each point gets prompts of its own: fresh_prompts, except for conversations,
        whose shared history is what they measure."""
        return self.fresh_prompts and self.dataset != "conversations"

    def prompts_at(self, concurrency: int) -> int:
        """The prompts a point at `concurrency` sends (conversations: the conversations)."""
        if self.dataset == "conversations":
            return self.num_prompts
        return max(self.num_prompts, self.min_prompts_per_slot * concurrency)

    def warmup_count(self, concurrency: int) -> int:
        """The warm-up's requests before a started server's first point at `concurrency`."""
        if self.warmup_prompts is not None:
            return self.warmup_prompts
        return min(MAX_WARMUP_PROMPTS, max(MIN_WARMUP_PROMPTS, concurrency))

    @property
    def concurrency_points(self) -> list[int]:
        """The sweep's concurrency values in order."""
        if isinstance(self.concurrency, list):
            return list(self.concurrency)
        return list(range(self.concurrency.min, self.concurrency.max + 1, self.concurrency.step))


MAX_SWEEP_REPEATS = 100
MAX_PARALLEL = 64  # server variants at once
MAX_RATE = 1_000_000.0  # requests/s
DEFAULT_SATURATION_GAIN = 0.1


class Search(Section):
    """Capacity by search instead of a grid (analysis/search.py): per server variant and
    workload, probe from `start`, doubling until a probe fails the SLO (or `max` passes),
    then bisect between the last pass and the first failure until they are `resolution`
    apart (the SLO's percentiles place some probes). Every probe is a full point (fresh
    prompts, steady state), run sweep.repeats times and judged on all its requests."""

    over: Literal["concurrency", "request_rate"] = Field(
        "concurrency", description="What to search: requests in flight, or requests/s (each"
        " rate probe sends workload.num_prompts, at most max_concurrency in flight).")
    start: Annotated[float, Field(gt=0, le=MAX_RATE)] = 1
    max: Annotated[float, Field(gt=0, le=MAX_RATE)] = Field(
        256, description="The highest value probed (concurrency at most"
        f" {MAX_CONCURRENCY}).")
    resolution: Annotated[float, Field(gt=0, le=MAX_RATE)] = Field(
        1, description="Bisect until the bracket (last pass, first failure) is this narrow.")
    saturation_gain: Annotated[float, Field(gt=0, lt=1)] = Field(
        DEFAULT_SATURATION_GAIN, description="Saturated: a point's throughput gain over the"
        " one before it is under this share of the concurrency's growth while TTFT grows."
        " Reported by the search; a grid skips a saturated variant's higher points once one"
        " fails the SLO.")
    max_concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = Field(
        256, description="request_rate search: the cap on requests in flight.")


class Sweep(Section):
    """A matrix of server and workload settings (config/sweep.py expands and checks it).

    Each side is a mapping of field -> list of values (their Cartesian product) or a list of
    mappings (explicit variants). Keys are the section's fields (`max_num_seqs`,
    `output_len`); `flags.NAME` adds `--NAME VALUE` to the server's vLLM flags.
    """

    server: dict[str, list[Any]] | list[dict[str, Any]] = Field(
        default_factory=dict, description="Server variants: each restarts the server.")
    workload: dict[str, list[Any]] | list[dict[str, Any]] = Field(
        default_factory=dict, description="Workload variants: each runs on the warm server.")
    link: dict[str, str] = Field(
        default_factory=dict,
        description="Tie a workload field to a server field: {workload.concurrency:"
        " server.max_num_seqs}.")
    repeats: Annotated[int, Field(ge=1, le=MAX_SWEEP_REPEATS)] = 1
    parallel: Annotated[int, Field(ge=1, le=MAX_PARALLEL)] | Literal["auto"] = Field(
        1, description="Server variants at once, each on its own GPUs and ports; auto: as many"
        " as the GPUs hold.")
    search: Search | None = Field(
        None, description="Find the capacity under workload.slo by search (concurrency or"
        " request rate) instead of running workload.concurrency's grid.")
    skip_saturated: bool = Field(
        True, description="A grid skips a series' higher concurrencies once a point is"
        " saturated and fails the SLO (the time saved is printed).")


class StackSpec(Section):
    """A whole orchestrator config file: a server to benchmark, a trainer, or both."""

    name: str | None = Field(None, description="Project name; default: the config's folder.")
    runtime: Runtime = Field(default_factory=Runtime)
    server: Server | None = Field(None, description="The bench stack's vLLM server.")
    client: Client = Field(default_factory=Client)
    workload: Workload = Field(default_factory=Workload)
    results_dir: NonEmpty = "bench_results"
    sweep: Sweep = Field(default_factory=Sweep, description="Server x workload settings to try.")
    trainer: Trainer | None = Field(None, description="The train stack (GRPO).")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (not DNS_LABEL.match(value) or len(value) > 40):
            raise ValueError(
                "must be lowercase letters, digits and '-', at most 40 characters"
                " (it prefixes container, pod and network names)"
            )
        return value
