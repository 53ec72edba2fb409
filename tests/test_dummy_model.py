"""host_scripts/make_dummy_model.py's tokenizer: the vocabulary a GPU proof serves with.

The GPU proofs measure the prefix-cache hit rate of vLLM's random dataset against this tokenizer,
so the tokenizer must not make unrelated prompts start alike. The dataset's procedure is redone
here from its documentation (runs of consecutive ids from a random offset per prompt, decoded,
re-encoded and trimmed): with merged tokens of arbitrary bytes, 7-8% of 512 prompts' 16-token
blocks were shared (the H200 trust proof's within-point hits); with text tokens under 0.1%."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer

SCRIPT = Path(__file__).resolve().parents[1] / "host_scripts" / "make_dummy_model.py"
_spec = importlib.util.spec_from_file_location("make_dummy_model", SCRIPT)
assert _spec is not None and _spec.loader is not None
dummy = importlib.util.module_from_spec(_spec)
sys.modules["make_dummy_model"] = dummy  # dataclasses look their module up by name
_spec.loader.exec_module(dummy)

BLOCK = 16  # vLLM's default KV block: the prefix cache shares whole blocks from the start


@pytest.fixture(scope="module", params=sorted(dummy.ARCHITECTURES))
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Any, Tokenizer]:
    arch = dummy.ARCHITECTURES[request.param]
    out = tmp_path_factory.mktemp(request.param)
    dummy.write_tokenizer(out, arch)
    return arch, Tokenizer.from_file(str(out / "tokenizer.json"))


def test_the_vocabulary_has_exactly_the_models_ids_with_specials_in_place(
        made: tuple[Any, Tokenizer]) -> None:
    arch, tokenizer = made
    assert tokenizer.get_vocab_size(with_added_tokens=True) == arch.config["vocab_size"]
    for token_id, text in arch.special.items():
        assert tokenizer.token_to_id(text) == token_id


def _random_dataset_prompts(tokenizer: Tokenizer, first_special: int, seed: int, count: int,
                            length: int = 512) -> list[list[int]]:
    """Prompts as vLLM's random dataset makes them: ids offset+i, offset+i+1, ... decoded to
    text, which the server encodes again (trimmed to the length asked)."""
    rng = random.Random(seed)
    prompts = []
    for index in range(count):
        start = rng.randrange(first_special) + index
        ids = [(start + k) % first_special for k in range(length)]
        text = tokenizer.decode(ids, skip_special_tokens=False)
        encoded = tokenizer.encode(text, add_special_tokens=False).ids[:length]
        prompts.append(tokenizer.encode(tokenizer.decode(encoded), add_special_tokens=False).ids)
    return prompts


def _shared_block_share(prompts: list[list[int]]) -> float:
    """The share of prompt tokens a prefix cache would serve: blocks whose whole prefix, this
    block included, an earlier prompt already had."""
    seen: set[tuple[int, ...]] = set()
    shared = total = 0
    for prompt in prompts:
        total += len(prompt)
        for end in range(BLOCK, len(prompt) + 1, BLOCK):
            prefix = tuple(prompt[:end])
            if prefix in seen:
                shared += BLOCK
            seen.add(prefix)
    return shared / total


def test_random_prompts_share_no_prefix_blocks(made: tuple[Any, Tokenizer]) -> None:
    arch, tokenizer = made
    prompts = _random_dataset_prompts(tokenizer, min(arch.special), seed=4, count=512)
    assert _shared_block_share(prompts) < 0.01
    # Text, not replacement characters: what a real vocabulary's prompts look like.
    assert "\ufffd" not in tokenizer.decode(prompts[0][:64])
