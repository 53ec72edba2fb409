"""Field types and small sections that several config sections share: sizes, GPU requests,
memory fractions, secrets by reference and the model cache."""

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


def _pinned_image(engine: str) -> str:
    # images/<engine>-image.txt is the one place an official image's tag is pinned.
    return (data_dir("images") / f"{engine}-image.txt").read_text(encoding="utf-8").strip()


DEFAULT_VLLM_IMAGE = _pinned_image("vllm")
DEFAULT_SGLANG_IMAGE = _pinned_image("sglang")  # SGLang's official image: its server only

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SIZE = re.compile(r"^(\d{1,15})([kmgt]?)b?$", re.IGNORECASE)
MAX_SIZE = 1024**4  # 1 TiB: beyond any host's memory or /dev/shm
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Return the byte count of a Docker-style size such as `16g`, `512m` or `1048576`."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError("is not a size; write it like 1g, 512m or 16g")
    size = int(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()]
    if size > MAX_SIZE:
        raise ValueError("is more than 1t, beyond any host; write it like 1g, 512m or 16g")
    return size


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _env_text(value: object) -> object:
    # YAML turns `VLLM_LOGGING_LEVEL: 1` into an int; an environment only holds text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_env_text)]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
INT32_MAX = 2**31 - 1  # what Kubernetes' and vLLM's integer fields hold
PositiveInt = Annotated[int, Field(ge=1, le=INT32_MAX)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
# A start-up budget: at most a week (Kubernetes probes count it in int32 periods).
StartupSeconds = Annotated[int, Field(ge=1, le=7 * 24 * 3600)]


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


def _check_memory(value: str) -> str:
    if parse_size(value) < 64 * 1024**2:
        raise ValueError("is below 64m, too little for any server; write it like 8g or 48g")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty; give a value or leave the key out for the default")
    return value


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path inside the container, such as /root/.cache/huggingface")
    return value


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("is not a variable name: letters, digits and '_' (also '.' and '-'"
                         " after the first), starting with a letter or '_'")
    return value


# Text that must not be empty (an image, a name, a folder).
NonEmpty = Annotated[str, AfterValidator(_not_blank)]
ContainerPath = Annotated[str, AfterValidator(_absolute)]
EnvName = Annotated[str, AfterValidator(_env_name)]

# A GPU request: a count, or the ids of the GPUs to use.
Gpus = Annotated[int | list[int], AfterValidator(_check_gpus)]
MemoryFraction = Annotated[float, AfterValidator(_check_fraction)]
ShmSize = Annotated[str, AfterValidator(_check_shm)]
MemorySize = Annotated[str, AfterValidator(_check_memory)]


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

    @field_validator("k8s_secret")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if not _SECRET_NAME.match(value) or len(value) > 253:
            raise ValueError("is not a Kubernetes Secret name: lowercase letters, digits, '-' and"
                             " '.', starting and ending with a letter or digit")
        return value

    @field_validator("k8s_key")
    @classmethod
    def _secret_key(cls, value: str) -> str:
        if not _SECRET_KEY.match(value) or len(value) > 253:
            raise ValueError("is not a key of a Kubernetes Secret: letters, digits, '-', '_' and '.'")
        return value


class ModelCache(Section):
    """Where downloaded weights persist between runs (Kubernetes: see runtime.kubernetes)."""

    mount_path: ContainerPath = Field(
        "/root/.cache/huggingface", description="Path inside the server container."
    )
    host_path: str | None = Field(
        "~/.cache/huggingface",
        description="Docker/local: host folder mounted at mount_path; null for none.",
    )


class Hardware(Section):
    """The server's GPU, for the fit check and each point's physical bound: by default what
    the runtime finds (nvidia-smi, a node's labels) and the table in fit/gpus.py."""

    gpu: str | None = Field(None, description="A GPU name such as 'H100 SXM', 'H200', 'A100 80GB'"
                            " (matched against the table), when the runtime cannot say.")
    memory_gib: Annotated[float, Field(gt=0, le=4096)] | None = Field(
        None, description="Memory per GPU in GiB (as nvidia-smi's memory.total / 1024).")
    bandwidth_gb_s: Annotated[float, Field(gt=0, le=100_000)] | None = Field(
        None, description="Memory bandwidth per GPU, GB/s.")
    bf16_tflops: Annotated[float, Field(gt=0, le=100_000)] | None = Field(
        None, description="Dense bf16 TFLOP/s per GPU.")


COMPILE_CACHE_MOUNT = "/root/.cache/vllm"


class CompileCache(Section):
    """vLLM's compile cache (VLLM_CACHE_ROOT: torch.compile, inductor and Triton caches): kept
    between server starts so that a warm start skips compilation (Kubernetes: see
    runtime.kubernetes)."""

    host_path: str | None = Field(
        "~/.cache/orchestrator/vllm-compile",
        description="Docker/local: host folder kept between starts; null: none (every start"
        " compiles anew).",
    )


Dtype = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]


def _model_not_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: name a Hugging Face model id or a path inside the image")
    return value


ModelName = Annotated[str, AfterValidator(_model_not_empty)]


# An environment entry: text, or a secret passed by reference (never its value).
EnvEntry = EnvValue | SecretRef


def plain_env(env: dict[str, EnvEntry]) -> dict[str, str]:
    """The entries given as text."""
    return {name: value for name, value in env.items() if isinstance(value, str)}


def secret_env(env: dict[str, EnvEntry], hf_token: SecretRef | None = None) -> dict[str, SecretRef]:
    """The entries given by reference, after HF_TOKEN from `hf_token` when there is one."""
    refs = {"HF_TOKEN": hf_token} if hf_token else {}
    return {**refs, **{name: value for name, value in env.items() if isinstance(value, SecretRef)}}
