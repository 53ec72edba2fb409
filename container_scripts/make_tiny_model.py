#!/usr/bin/env python3
"""Make a tiny random-weight Qwen2 model and its tokenizer, with no hub and no network.

    python3 make_tiny_model.py /models/tiny-qwen2

The model is a real Qwen2 architecture (about 0.8M parameters, 2 MB) that vLLM loads like any
other; the tokenizer is a byte-level BPE trained on text found on this machine. Outputs are
random words, which is all a serving benchmark needs. The same seed gives the same model.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def training_text(limit_bytes: int = 4_000_000) -> list[str]:
    """Local text to learn a vocabulary from: licences and the standard library's sources."""
    roots = [Path("/usr/share/common-licenses"), Path(sysconfig.get_paths()["stdlib"])]
    texts, total = [], 0
    for root in roots:
        for path in sorted(root.rglob("*")):
            if total >= limit_bytes:
                return texts
            if path.is_file() and (root.name == "common-licenses" or path.suffix == ".py"):
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                texts.append(text)
                total += len(text)
    return texts


def make_tokenizer(vocab_size: int):
    """Train a byte-level BPE tokenizer and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_text(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=1024,
    )


def make_model(out: Path, vocab_size: int, seed: int) -> None:
    """Save a random-weight Qwen2 model and its tokenizer into `out`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = make_tokenizer(vocab_size)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        torch_dtype="bfloat16",
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(f"make_tiny_model.py: wrote {out} ({params:,} parameters, vocabulary {len(tokenizer)})")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the model into")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make_model(args.out, args.vocab_size, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
