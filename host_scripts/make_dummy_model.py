#!/usr/bin/env python3
"""Make a model folder of a real architecture without downloading anything.

    make_dummy_model.py OUT                          # Qwen2.5-0.5B: serve with --load-format dummy
    make_dummy_model.py OUT --weights                # also random bf16 weights (a trainer loads them)
    make_dummy_model.py OUT --arch qwen2.5-7b        # Qwen2.5-7B's (dummy weights only)
    make_dummy_model.py OUT --arch gpt-oss-120b      # openai/gpt-oss-120b's architecture

Each architecture's config.json values are written out here. The tokenizer is a byte-level BPE
with exactly `vocab_size` ids and the model's special tokens at their real ids, so every id a
dummy-weight model generates decodes, and its merged tokens are printable ASCII, so that the
prompts vLLM's random dataset decodes from runs of ids are text that differs from the first
token. (Decoded ids do not always re-encode to as many tokens; the dataset re-encodes its
prompts and trims them to the length asked.)

gpt-oss-120b's checkpoint stores its experts in MXFP4; its config here has no
quantization_config, so vLLM builds the experts in bf16 (116.8B parameters, 234 GB). Dummy
weights cannot fill MXFP4's integer tensors: vLLM's dummy loader leaves every non-float tensor
as uninitialised memory. Serving gpt-oss offline also needs Harmony's vocabulary
(host_scripts/harmony_vocab.py). Needs `tokenizers`, and `torch` + `transformers` for --weights.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Architecture:
    """A model's config.json, its special tokens by id and what its tokenizer files declare."""

    config: dict[str, Any]
    special: dict[int, str]
    tokenizer_class: str
    eos_token: str
    pad_token: str
    chat_template: str
    generation: dict[str, Any]
    trainable: bool  # small enough for --weights


QWEN2_5_0_5B = Architecture(
    config={
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "max_window_layers": 21,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "use_sliding_window": False,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "vocab_size": 151936,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": True,
    },
    special={151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>"},
    tokenizer_class="Qwen2Tokenizer",
    eos_token="<|im_end|>",
    pad_token="<|endoftext|>",
    chat_template=(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"),
    generation={"bos_token_id": 151643, "eos_token_id": 151645},
    trainable=True,
)

GPT_OSS_120B = Architecture(
    config={
        "architectures": ["GptOssForCausalLM"],
        "model_type": "gpt_oss",
        "attention_bias": True,
        "attention_dropout": 0.0,
        "eos_token_id": 200002,
        "pad_token_id": 199999,
        "experts_per_token": 4,
        "num_experts_per_tok": 4,
        "num_local_experts": 128,
        "head_dim": 64,
        "hidden_act": "silu",
        "hidden_size": 2880,
        "intermediate_size": 2880,
        "initial_context_length": 4096,
        "initializer_range": 0.02,
        "layer_types": ["sliding_attention", "full_attention"] * 18,
        "max_position_embeddings": 131072,
        "num_attention_heads": 64,
        "num_hidden_layers": 36,
        "num_key_value_heads": 8,
        "output_router_logits": False,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0,
                         "original_max_position_embeddings": 4096, "rope_type": "yarn",
                         "truncate": False},
        "rope_theta": 150000,
        "router_aux_loss_coef": 0.9,
        "sliding_window": 128,
        "swiglu_limit": 7.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": 201088,
    },
    # o200k_harmony's named tokens; the other ids from 199998 up are <|reserved_N|>.
    special={199998: "<|startoftext|>", 199999: "<|endoftext|>", 200002: "<|return|>",
             200003: "<|constrain|>", 200005: "<|channel|>", 200006: "<|start|>",
             200007: "<|end|>", 200008: "<|message|>", 200012: "<|call|>",
             200018: "<|endofprompt|>"},
    tokenizer_class="PreTrainedTokenizerFast",
    eos_token="<|return|>",
    pad_token="<|endoftext|>",
    chat_template=(
        "{% for m in messages %}<|start|>{{ m['role'] }}<|message|>{{ m['content'] }}<|end|>"
        "{% endfor %}{% if add_generation_prompt %}<|start|>assistant{% endif %}"),
    generation={"bos_token_id": 199998, "eos_token_id": [200002, 199999, 200012],
                "pad_token_id": 199999},
    trainable=False,
)

# Qwen2.5-7B's shape: the same tokenizer family (a vocabulary of 152064 ids, special ids as
# Qwen2.5's), 28 layers of 4 KV heads of 128: the second shape the fit check is measured on.
QWEN2_5_7B = Architecture(
    config={**QWEN2_5_0_5B.config, "hidden_size": 3584, "intermediate_size": 18944,
            "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
            "max_window_layers": 28, "sliding_window": 131072, "tie_word_embeddings": False,
            "vocab_size": 152064},
    special=QWEN2_5_0_5B.special,
    tokenizer_class=QWEN2_5_0_5B.tokenizer_class,
    eos_token=QWEN2_5_0_5B.eos_token,
    pad_token=QWEN2_5_0_5B.pad_token,
    chat_template=QWEN2_5_0_5B.chat_template,
    generation=QWEN2_5_0_5B.generation,
    trainable=False,
)

ARCHITECTURES = {"qwen2.5-0.5b": QWEN2_5_0_5B, "qwen2.5-7b": QWEN2_5_7B,
                 "gpt-oss-120b": GPT_OSS_120B}


def write_tokenizer(out: Path, arch: Architecture) -> None:
    """A byte-level BPE tokenizer with exactly the config's `vocab_size` ids: the 256 byte
    symbols, then every pair of printable ASCII characters, then pairs extended by a third, as
    merges, up to the first special id; then the special tokens at their ids and reserved ones up
    to the end.

    Merged tokens are text, as a real vocabulary's mostly are: vLLM's random dataset decodes runs
    of consecutive ids into a prompt, and tokens of arbitrary bytes decoded into runs of U+FFFD
    that made many prompts start alike (7-8% of 512 such prompts' 16-token blocks shared: the
    H200 trust proof's prefix-cache hits where no prompt was ever sent twice)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel

    vocab_size = arch.config["vocab_size"]
    symbols = sorted(ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(symbols)}
    merges: list[tuple[str, str]] = []
    wanted = min(arch.special)

    def add(left: str, right: str) -> bool:
        if len(vocab) >= wanted:
            return False
        vocab[left + right] = len(vocab)
        merges.append((left, right))
        return True

    # ByteLevel writes a space as U+0120 and printable ASCII as itself.
    text = [chr(0x120)] + [chr(c) for c in range(0x21, 0x7F)]
    pairs = [(a, b) for a in text for b in text]
    for a, b in pairs:
        if not add(a, b):
            break
    for a, b in pairs:
        for c in text:
            if not add(a + b, c):
                break
        if len(vocab) >= wanted:
            break
    specials = [arch.special.get(i, f"<|reserved_{i}|>") for i in range(wanted, vocab_size)]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(specials)  # ids wanted .. vocab_size-1, in order
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": arch.tokenizer_class,
        "eos_token": arch.eos_token, "pad_token": arch.pad_token,
        "model_max_length": arch.config["max_position_embeddings"],
        "chat_template": arch.chat_template,
    }, indent=2))


def main() -> None:
    """Write the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="qwen2.5-0.5b")
    parser.add_argument("--weights", action="store_true", help="also write random bf16 weights")
    args = parser.parse_args()
    arch = ARCHITECTURES[args.arch]
    if args.weights and not arch.trainable:
        parser.error(f"--weights: {args.arch} is too large to write random weights for; "
                     "serve it with --load-format dummy")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(arch.config, indent=2))
    (args.out / "generation_config.json").write_text(json.dumps(arch.generation))
    write_tokenizer(args.out, arch)
    if args.weights:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.out),
                                                 torch_dtype=torch.bfloat16)
        model.save_pretrained(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
