"""A model's shape from its folder: config.json for the architecture, the safetensors headers
for the exact weight bytes (only each file's JSON header is read, never the weights). A folder
with config.json and no weights (a dummy-weights model) is counted from the config."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError

MAX_CONFIG_BYTES = 4 * 1024**2
MAX_HEADER_BYTES = 64 * 1024**2  # a safetensors JSON header; real ones are well under 10 MB
MAX_WEIGHT_FILES = 4096
# Bytes per element of each safetensors dtype.
DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
               "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
               "F8_E8M0": 1, "F4": 0.5}
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}  # what --dtype converts; the rest is quantized


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate and the hardware bound need of a model."""

    name: str
    layers: int
    hidden: int
    vocab: int
    heads: int
    kv_heads: int
    head_dim: int
    mlp_width: int  # a token's MLP width: intermediate_size, or top-k x an expert's (MoE)
    params: float  # all parameters
    active_params: float  # those one token passes through (MoE: its top-k experts only)
    float_params: float  # parameters stored as floats (--dtype converts them)
    quantized_bytes: float  # bytes of the others (FP8, MXFP4, int), kept as stored
    mla_dim: int | None = None  # MLA: kv_lora_rank + qk_rope_head_dim per token per layer
    sliding_layers: int = 0  # layers with a sliding attention window
    sliding_window: int | None = None
    max_position: int | None = None  # max_position_embeddings: vLLM's default max_model_len
    source: str = "config.json"  # or "safetensors headers"

    def weight_bytes(self, dtype_bytes: int) -> float:
        """The weights in memory: float tensors at the served dtype, the rest as stored."""
        return self.float_params * dtype_bytes + self.quantized_bytes

    def kv_bytes_per_token(self, tp: int, pp: int, kv_dtype_bytes: int) -> float:
        """KV cache bytes one token takes on one GPU: K and V of every layer on it (vLLM
        reserves every layer's, sliding-window ones too); the KV heads are split over tensor
        parallel (replicated when there are fewer than tp); an MLA latent is not split."""
        layers = -(-self.layers // pp)
        if self.mla_dim is not None:
            return layers * self.mla_dim * kv_dtype_bytes
        heads = max(1, -(-self.kv_heads // tp))
        return layers * 2 * heads * self.head_dim * kv_dtype_bytes


def read_shape(folder: Path) -> ModelShape:
    """The shape of the model in `folder` (config.json, and *.safetensors when there)."""
    config = _config(folder / "config.json")
    counted = _from_config(folder.name, config)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return counted
    if len(files) > MAX_WEIGHT_FILES:
        raise ConfigError(f"{folder}: {len(files)} safetensors files, more than"
                          f" {MAX_WEIGHT_FILES}; is this a model folder?")
    floats = quantized = 0.0
    for path in files:
        for entry in _header(path).values():
            count = 1.0
            for size in entry["shape"]:
                count *= size
            dtype = entry["dtype"]
            if dtype in FLOAT_DTYPES:
                floats += count
            else:
                quantized += count * DTYPE_BYTES[dtype]
    total = floats + quantized  # a quantized element is counted as one parameter: close enough
    share = counted.active_params / counted.params if counted.params else 1.0
    return ModelShape(**{**counted.__dict__, "params": total, "active_params": total * share,
                         "float_params": floats, "quantized_bytes": quantized,
                         "source": "safetensors headers"})


def _config(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is over {MAX_CONFIG_BYTES // 1024**2} MiB; not a model's"
                              " config.json")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a JSON object")
    text = data.get("text_config")  # a multimodal model: the language model's part
    return {**data, **text} if isinstance(text, dict) else data


def _int(config: dict[str, Any], *keys: str, default: int | None = None) -> int:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**40:
            return value
    if default is not None:
        return default
    raise ConfigError(f"config.json has no usable {' or '.join(keys)} (a positive integer)")


def _from_config(name: str, config: dict[str, Any]) -> ModelShape:
    """Count the parameters of a decoder-only transformer from its config (Llama, Qwen,
    Mistral, gpt-oss and other MoE, DeepSeek's MLA)."""
    hidden = _int(config, "hidden_size", "d_model", "n_embd")
    layers = _int(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = _int(config, "num_attention_heads", "n_head")
    kv_heads = _int(config, "num_key_value_heads", default=heads)
    head_dim = _int(config, "head_dim", default=hidden // heads)
    vocab = _int(config, "vocab_size")
    inter = _int(config, "intermediate_size", default=4 * hidden)
    experts = _int(config, "num_local_experts", "num_experts", "n_routed_experts", default=0)
    top_k = _int(config, "num_experts_per_tok", "experts_per_token", default=min(experts, 2))
    moe_inter = _int(config, "moe_intermediate_size", default=inter)
    shared = _int(config, "n_shared_experts", default=0)
    dense_first = _int(config, "first_k_dense_replace", default=0) if experts else layers
    kv_lora = _int(config, "kv_lora_rank", default=0)
    mla = kv_lora > 0
    if mla:
        rope = _int(config, "qk_rope_head_dim")
        nope = _int(config, "qk_nope_head_dim")
        v_dim = _int(config, "v_head_dim", default=nope)
        q_lora = _int(config, "q_lora_rank", default=0)
        q = (hidden * q_lora + q_lora * heads * (nope + rope) if q_lora
             else hidden * heads * (nope + rope))
        attention = (q + hidden * (kv_lora + rope) + kv_lora * heads * (nope + v_dim)
                     + heads * v_dim * hidden)
    else:
        attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
    dense_mlp = 3 * hidden * inter
    expert = 3 * hidden * moe_inter
    moe_layers = layers - min(dense_first, layers)
    per_layer_fixed = attention + 2 * hidden
    embed = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    fixed = embed + layers * per_layer_fixed + (layers - moe_layers) * dense_mlp
    moe_fixed = moe_layers * (shared * expert + hidden * experts)  # shared experts, router
    params = fixed + moe_fixed + moe_layers * experts * expert
    active = fixed + moe_fixed + moe_layers * top_k * expert
    types = config.get("layer_types")
    window = config.get("sliding_window")
    if isinstance(types, list):
        sliding = sum(1 for t in types if t == "sliding_attention")
    elif isinstance(window, int) and config.get("use_sliding_window", True):
        sliding = layers - _int(config, "max_window_layers", default=0) \
            if "max_window_layers" in config else layers
    else:
        sliding = 0
    return ModelShape(
        name=name, layers=layers, hidden=hidden, vocab=vocab, heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, mlp_width=top_k * moe_inter if experts else inter,
        params=float(params), active_params=float(active),
        float_params=float(params), quantized_bytes=0.0,
        mla_dim=(kv_lora + _int(config, "qk_rope_head_dim")) if mla else None,
        sliding_layers=max(0, sliding), sliding_window=window if sliding else None,
        max_position=_int(config, "max_position_embeddings", "n_positions", default=0) or None)


def _header(path: Path) -> dict[str, Any]:
    """The tensors of one safetensors file, from its JSON header only."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than its 8-byte header length")
            (size,) = struct.unpack("<Q", raw)
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"header of {size} bytes, over {MAX_HEADER_BYTES}")
            header = json.loads(handle.read(size))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        for entry in tensors.values():
            if (not isinstance(entry, dict) or entry.get("dtype") not in DTYPE_BYTES
                    or not isinstance(entry.get("shape"), list)
                    or not all(isinstance(s, int) and 0 <= s < 2**40 for s in entry["shape"])):
                raise ValueError(f"a tensor entry that is not a known dtype and shape: {entry!r:.80}")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable safetensors file ({exc})") from None
    return tensors
