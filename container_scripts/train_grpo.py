#!/usr/bin/env python3
"""GRPO training with TRL's GRPOTrainer: the knobs users tune, in one YAML file or flags.

    train_grpo.py --config grpo.yaml
    train_grpo.py --model /models/tiny-qwen2 --dataset toy --max-steps 3 --generation plain
    MAX_TOKENS=256 train_grpo.py --config grpo.yaml          # MAX_TOKENS sets max_completion_length

Layers: defaults < --config YAML < MAX_TOKENS < flags. Generation: `plain` (the model's own
generate, for CPU), `server` (a paired `trl vllm-serve` rollout server, weights synced over
NCCL on --vllm-group-port) or `colocate` (vLLM inside the trainer). Every rollout generation
logs `LLM Generation: <ms>ms | Tokens: <in> in / <out> out | Completions: <n> (max <m> out)`
to stdout and to
<output_dir>/rollouts.log (`orchestrator analyze rollouts` reads it); metrics go to
<output_dir>/metrics.csv (and TensorBoard when installed); the final model to <output_dir>/final.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "model": None,
    "dataset": "toy",
    "rewards": ["json_valid", "length_penalty"],
    "learning_rate": 1e-6,
    "beta": 0.04,
    "num_generations": 4,
    "per_device_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_prompt_length": 256,
    "max_completion_length": 128,
    "max_steps": 10,
    "logging_steps": 1,
    "save_steps": 0,
    "save_total_limit": 0,
    "resume_from": "",
    "output_dir": "grpo_output",
    "seed": 0,
    "generation": "plain",
    "vllm_server_url": "http://localhost:8000",
    "vllm_group_port": 51216,
    "log_raw_output": False,
    "temperature": 1.0,
    "length_target_words": 50,
    "keyword": "",
}
TRL_VERSION = "1.16"  # the generation hook below is TRL's; other versions are refused at start
FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


# -- rewards: (completions, **columns) -> one float per completion ---------------------------


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": ..., "content": ...}]
        return "".join(m.get("content", "") for m in completion)
    return str(completion)


def json_valid(completions: list[Any], **_: Any) -> list[float]:
    """1.0 when the completion is a JSON object (code fences allowed), else 0.0."""
    rewards = []
    for completion in completions:
        try:
            rewards.append(1.0 if isinstance(json.loads(FENCE.sub("", _text(completion).strip())), dict) else 0.0)
        except ValueError:
            rewards.append(0.0)
    return rewards


def make_length_penalty(target_words: int) -> Any:
    """A reward of 0.0 up to `target_words` words, then -1.0 for each `target_words` beyond."""

    def length_penalty(completions: list[Any], **_: Any) -> list[float]:
        return [-max(0, len(_text(c).split()) - target_words) / target_words for c in completions]

    return length_penalty


def make_length_target(target_words: int) -> Any:
    """1.0 at exactly `target_words` words, falling linearly with the distance (0.0 at none or
    at twice the target, at least -1.0): lengths score apart, so GRPO's advantages are not all
    zero even when no completion is good yet."""

    def length_target(completions: list[Any], **_: Any) -> list[float]:
        return [max(-1.0, 1 - abs(len(_text(c).split()) - target_words) / target_words)
                for c in completions]

    return length_target


def make_keyword(default: str) -> Any:
    """1.0 when the completion holds the row's `keyword` column (else `default`), any case."""

    def keyword(completions: list[Any], **columns: Any) -> list[float]:
        words = columns.get("keyword") or [default] * len(completions)
        return [1.0 if str(word).lower() in _text(c).lower() else 0.0
                for c, word in zip(completions, words, strict=True)]

    return keyword


def _normal(text: str) -> str:
    return " ".join(text.strip().lower().rstrip(".!").split())


def exact_answer(completions: list[Any], answer: list[Any], **_: Any) -> list[float]:
    """1.0 when the completion's first non-empty line is the row's `answer` (case, spacing
    and a final full stop aside), else 0.0."""
    rewards = []
    for completion, expected in zip(completions, answer, strict=True):
        lines = [line for line in _text(completion).splitlines() if line.strip()]
        rewards.append(1.0 if lines and _normal(lines[0]) == _normal(str(expected)) else 0.0)
    return rewards


def needed_columns(rewards: list[str], settings: dict[str, Any]) -> dict[str, str]:
    """The dataset columns the rewards read, each with the reward that reads it."""
    needed = {}
    if "exact_answer" in rewards:
        needed["answer"] = "exact_answer"
    if "keyword" in rewards and not settings["keyword"]:
        needed["keyword"] = "keyword (or --keyword)"
    return needed


# The built-in rewards by name, each made from the settings (the config check reads REWARDS).
BUILTIN: dict[str, Callable[[dict[str, Any]], Any]] = {
    "json_valid": lambda settings: json_valid,
    "length_penalty": lambda settings: make_length_penalty(settings["length_target_words"]),
    "length_target": lambda settings: make_length_target(settings["length_target_words"]),
    "keyword": lambda settings: make_keyword(settings["keyword"]),
    "exact_answer": lambda settings: exact_answer,
}
REWARDS = tuple(BUILTIN)


def load_reward(name: str, settings: dict[str, Any]) -> Any:
    """A built-in reward by name (REWARDS), or any function as module:function."""
    if name in BUILTIN:
        return BUILTIN[name](settings)
    module, _, function = name.partition(":")
    if not function:
        sys.exit(f"train_grpo.py: unknown reward {name!r}; use {', '.join(REWARDS)} or module:function")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        sys.exit(f"train_grpo.py: cannot load reward {name!r}: {exc}")


# -- configuration ----------------------------------------------------------------------------


def parse_settings(argv: list[str] | None = None) -> dict[str, Any]:
    """Defaults < --config YAML < MAX_TOKENS < flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="YAML file with any of the settings below")
    for key, default in DEFAULTS.items():
        flag = "--" + key.replace("_", "-")
        if key == "rewards":
            parser.add_argument("--reward", dest="rewards", action="append",
                                help=f"{', '.join(REWARDS)} or module:function (repeatable)")
        elif isinstance(default, bool):
            parser.add_argument(flag, dest=key, action="store_const", const=True)
        else:
            kind = type(default) if default is not None else str
            parser.add_argument(flag, dest=key, type=kind if kind in (int, float) else str)
    args = parser.parse_args(argv)
    settings = dict(DEFAULTS)
    if args.config:
        import yaml

        loaded = yaml.safe_load(args.config.read_text()) or {}
        unknown = sorted(set(loaded) - set(DEFAULTS))
        if unknown:
            sys.exit(f"train_grpo.py: unknown settings in {args.config}: {unknown}")
        settings.update(loaded)
    if os.environ.get("MAX_TOKENS"):
        settings["max_completion_length"] = int(os.environ["MAX_TOKENS"])
    settings.update({k: v for k, v in vars(args).items() if k != "config" and v is not None})
    if not settings["model"]:
        sys.exit("train_grpo.py: no model: pass --model or set model: in --config")
    if settings["generation"] not in ("plain", "server", "colocate"):
        sys.exit(f"train_grpo.py: --generation {settings['generation']!r}: use plain, server or colocate")
    return settings


# -- data -------------------------------------------------------------------------------------


def toy_prompts(count: int = 64) -> list[dict[str, str]]:
    """A small built-in task: answer with a JSON object."""
    things = ["a person", "a city", "a book", "a planet", "a recipe", "a car", "a song", "a tree"]
    return [{"prompt": f"Describe {things[i % len(things)]} number {i} as a JSON object with two keys."}
            for i in range(count)]


def load_prompts(source: str, tokenizer: Any, max_prompt_length: int) -> Any:
    """The prompts as a datasets.Dataset; each kept to its last `max_prompt_length` tokens."""
    from datasets import Dataset

    if source == "toy":
        rows = toy_prompts()
    else:
        rows = [json.loads(line) for line in Path(source).read_text().splitlines() if line.strip()]
        if not rows or "prompt" not in rows[0]:
            sys.exit(f"train_grpo.py: {source} must be JSONL with a 'prompt' field on each line")
    for row in rows:
        ids = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        if len(ids) > max_prompt_length:
            row["prompt"] = tokenizer.decode(ids[-max_prompt_length:])
    return Dataset.from_list(rows)


# -- the trainer ------------------------------------------------------------------------------


def timed_trainer_class(log_path: Path, log_raw: bool) -> Any:
    """GRPOTrainer that logs each rollout generation in seed 000's timing format."""
    from trl import GRPOTrainer

    if not hasattr(GRPOTrainer, "_generate_single_turn"):
        sys.exit(f"train_grpo.py: this TRL has no generation hook to time; use trl=={TRL_VERSION}.*")

    class TimedGRPOTrainer(GRPOTrainer):
        def _generate_single_turn(self, prompt_ids: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = super()._generate_single_turn(prompt_ids, *args, **kwargs)
            ms = (time.perf_counter() - start) * 1000
            completion_ids = result[0]
            tokens_in = sum(len(p) for p in prompt_ids)
            lengths = [len(c) for c in completion_ids]
            tokens_out = sum(lengths)
            # A batch's totals, and its longest completion: MAX_TOKENS limits each completion.
            lines = [f"LLM Generation: {ms:.0f}ms | Tokens: {tokens_in} in / {tokens_out} out"
                     f" | Completions: {len(lengths)} (max {max(lengths, default=0)} out)"]
            if log_raw:
                texts = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
                lines += [f"LLM Output: {json.dumps(text)}" for text in texts]
            with log_path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            print(lines[0], flush=True)
            return result

    return TimedGRPOTrainer


def resumed_history(checkpoint: Path) -> list[dict[str, Any]]:
    """The metrics logged up to a checkpoint (its trainer_state.json's log_history), as rows of
    metrics.csv, so that a resumed run's CSV goes on from the checkpoint's step, none twice."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [{"step": entry["step"], **entry}  # the step first, as on_log writes it
            for entry in state.get("log_history", []) if "step" in entry]


def metrics_callback(path: Path, rows: list[dict[str, Any]]) -> Any:
    """A TrainerCallback that keeps every logged metric in a CSV (after `rows`, a resumed run's
    earlier ones), rewritten whole each time, and says each checkpoint as it is saved."""
    from transformers import TrainerCallback

    class MetricsCsv(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # One line the orchestrator watches for, to bring the checkpoint home now.
            print(f"train_grpo.py: checkpoint-{state.global_step} saved", flush=True)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            if not logs:
                return
            rows.append({"step": state.global_step, **logs})
            columns = list(dict.fromkeys(k for row in rows for k in row))
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(buffer.getvalue())
            os.replace(tmp, path)

    return MetricsCsv()


def main(argv: list[str] | None = None) -> int:
    """Train; return 0 when the final model is saved."""
    settings = parse_settings(argv)
    import torch
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    out = Path(settings["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    resume = Path(settings["resume_from"]) if settings["resume_from"] else None
    history = resumed_history(resume) if resume else []
    if resume and (resume.parent / "rollouts.log").is_file() and not (out / "rollouts.log").exists():
        # The earlier run's rollout lines (beside its checkpoints) come first.
        shutil.copyfile(resume.parent / "rollouts.log", out / "rollouts.log")
    (out / "settings.json").write_text(json.dumps(settings, indent=2))
    tokenizer = AutoTokenizer.from_pretrained(settings["model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = load_prompts(settings["dataset"], tokenizer, settings["max_prompt_length"])
    for column, reward in needed_columns(settings["rewards"], settings).items():
        if column not in dataset.column_names:
            sys.exit(f"train_grpo.py: the reward {reward} reads a {column!r} on each line;"
                     f" {settings['dataset']} has none")
    try:
        importlib.import_module("tensorboard")
        report_to = ["tensorboard"]
    except ImportError:
        report_to = []
    vllm = {"plain": {"use_vllm": False},
            "server": {"use_vllm": True, "vllm_mode": "server",
                       "vllm_server_base_url": settings["vllm_server_url"],
                       "vllm_group_port": settings["vllm_group_port"]},
            "colocate": {"use_vllm": True, "vllm_mode": "colocate"}}[settings["generation"]]
    config = GRPOConfig(
        output_dir=str(out),
        learning_rate=settings["learning_rate"],
        beta=settings["beta"],
        num_generations=settings["num_generations"],
        per_device_train_batch_size=settings["per_device_batch_size"],
        gradient_accumulation_steps=settings["gradient_accumulation_steps"],
        max_completion_length=settings["max_completion_length"],
        max_steps=settings["max_steps"],
        logging_steps=settings["logging_steps"],
        save_strategy="steps" if settings["save_steps"] else "no",
        save_steps=settings["save_steps"] or 500,
        save_total_limit=settings["save_total_limit"] or None,
        seed=settings["seed"],
        temperature=settings["temperature"],
        report_to=report_to,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
        **vllm,
    )
    trainer_class = timed_trainer_class(out / "rollouts.log", settings["log_raw_output"])
    trainer = trainer_class(
        model=settings["model"],
        reward_funcs=[load_reward(name, settings) for name in settings["rewards"]],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[metrics_callback(out / "metrics.csv", history)],
    )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # One line per rank, so that every pod's log says it joined (and over what).
        print(f"train_grpo.py: rank {torch.distributed.get_rank()} of"
              f" {torch.distributed.get_world_size()} ({torch.distributed.get_backend()})",
              flush=True)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.save_model(str(out / "final"))
    tokenizer.save_pretrained(str(out / "final"))
    print(f"train_grpo.py: done; final model in {out / 'final'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
