#!/usr/bin/env python3
"""Make a model folder of a real architecture without downloading anything.

    make_dummy_model.py OUT                    # config + tokenizer: serve with --load-format dummy
    make_dummy_model.py OUT --weights          # also random bf16 weights (a trainer loads them)

The architecture is Qwen2.5-0.5B-Instruct's (its config.json values, written out here). The
tokenizer is a word-level one with exactly `vocab_size` entries ("t0", "t1", ...; special
tokens at Qwen's ids), so every id a dummy-weight model generates decodes, and text made of
those words re-encodes to the same ids (vLLM's random benchmark prompts keep their length).
Needs `tokenizers`, and `torch` + `transformers` for --weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

QWEN2_5_0_5B = {
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
}
SPECIAL = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>"}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_tokenizer(out: Path, vocab_size: int) -> None:
    """A byte-level BPE tokenizer (Qwen2's kind) with exactly `vocab_size` ids: the 256 byte
    symbols, then every pair of them, then pairs extended by a third byte, as merges; then
    Qwen's special tokens at their ids and reserved ones up to `vocab_size`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel

    symbols = sorted(ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(symbols)}
    merges: list[tuple[str, str]] = []
    wanted = min(SPECIAL)

    def add(left: str, right: str) -> bool:
        if len(vocab) >= wanted:
            return False
        vocab[left + right] = len(vocab)
        merges.append((left, right))
        return True

    pairs = [(a, b) for a in symbols for b in symbols]
    for a, b in pairs:
        if not add(a, b):
            break
    for a, b in pairs:
        for c in symbols:
            if not add(a + b, c):
                break
        if len(vocab) >= wanted:
            break
    specials = [SPECIAL.get(i, f"<|reserved_{i}|>") for i in range(wanted, vocab_size)]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(specials)  # ids wanted .. vocab_size-1, in order
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer",
        "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "model_max_length": QWEN2_5_0_5B["max_position_embeddings"],
        "chat_template": CHAT_TEMPLATE,
    }, indent=2))


def main() -> None:
    """Write the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--weights", action="store_true", help="also write random bf16 weights")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = dict(QWEN2_5_0_5B)
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    (args.out / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"]}))
    write_tokenizer(args.out, config["vocab_size"])
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
