"""The shape of the train stack's config: the GRPO trainer and its rollout server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from orchestrator.config.fields import (
    INT32_MAX,
    Dtype,
    EnvEntry,
    EnvName,
    GpuCounting,
    Gpus,
    MemoryFraction,
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

DEFAULT_TRAINER_IMAGE = "orchestrator-vllm-gpu:local"  # host_scripts/build_images.sh gpu


class Rollout(GpuCounting, Section):
    """The rollout server the trainer generates with (`trl vllm-serve`, trainer.generation: server)."""

    image: NonEmpty | None = Field(None, description="Default: trainer.image (it has TRL and vLLM).")
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
    env: dict[EnvName, EnvEntry] = Field(
        default_factory=dict, description="Text, or a secret by reference: {from_env: NAME}.")
    shm_size: ShmSize = "16g"
    startup_timeout: StartupSeconds = Field(900, description="Seconds to wait for /health.")


class Trainer(GpuCounting, Section):
    """GRPO training with TRL (container_scripts/train_grpo.py)."""

    image: NonEmpty = Field(DEFAULT_TRAINER_IMAGE, description="An image with TRL; see images/gpu.")
    model: ModelName = Field(description="Hugging Face id or a path inside the image.")
    dataset: str = Field("toy", description="A JSONL file in the image (a 'prompt' per line), or toy.")
    dataset_path: str | None = Field(
        None, description="A JSONL file on this machine (relative to the current folder): a"
        " 'prompt' per line, and the columns the rewards read ('answer', 'keyword'); checked"
        " before start and carried to the trainer on every runtime. Instead of dataset.")
    rewards: list[str] = Field(
        default_factory=lambda: ["json_valid", "length_penalty"],
        description="json_valid, length_penalty, length_target (1.0 at length_target_words,"
        " less the further off), keyword (the line's 'keyword', or reward_keyword), exact_answer"
        " (the line's 'answer'), or module:function importable in the trainer.",
    )
    reward_keyword: str | None = Field(
        None, description="The keyword reward's word where the dataset has no 'keyword' column.")
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
    length_target_words: PositiveInt = Field(
        50, description="length_penalty's free length; length_target's target.")
    max_steps: PositiveInt = 10
    logging_steps: PositiveInt = 1
    save_steps: Annotated[int, Field(ge=0, le=INT32_MAX)] = Field(
        0, description="A checkpoint every N steps, brought home as it is written (`up train"
                       " --resume RUN` goes on from the last); 0: only the final model.")
    save_total_limit: Annotated[int, Field(ge=0, le=INT32_MAX)] = Field(
        0, description="Keep only the newest N checkpoints, in the trainer and at home; 0: all.")
    seed: Seed = 0
    log_raw_output: bool = Field(False, description="Log completions' text beside timing lines.")
    generation: Literal["server", "colocate", "plain"] = Field(
        "server",
        description="server: a paired rollout server; colocate: vLLM in the trainer;"
        " plain: the model's own generate (CPU).",
    )
    gpus: Gpus = Field(1, description="A count, or a list of GPU ids; 0 for CPU. Per node.")
    nodes: PositiveInt = Field(1, description="Kubernetes: trainer pods (an indexed Job).")
    env: dict[EnvName, EnvEntry] = Field(
        default_factory=dict, description="Text, or a secret by reference: {from_env: NAME}.")
    hf_token: SecretRef | None = Field(
        default_factory=SecretRef, description="HF_TOKEN passed by reference; null for none."
    )
    model_cache: ModelCache = Field(default_factory=ModelCache)
    shm_size: ShmSize = "16g"
    rollout: Rollout | None = Field(None, description="Required with generation: server.")
    results_dir: NonEmpty = "train_results"

    @property
    def processes(self) -> int:
        """Training processes: one per GPU on each node (one on CPU)."""
        return max(self.gpu_count, 1) * self.nodes
