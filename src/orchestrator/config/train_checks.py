"""Rules that relate several fields of the train stack's config (trainer and rollout server).

Each check returns the location to blame and a message that names the fields, their values
and a fix. They run before anything starts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache
from types import ModuleType

from orchestrator.config.dataset_files import DatasetFileError, check_dataset_file
from orchestrator.config.model import StackSpec
from orchestrator.config.problems import Problem, carried_problem, spans_nodes_problem
from orchestrator.resources import data_dir
from orchestrator.runtimes import traits

# The same for `trl vllm-serve`, the rollout server (underscore spellings are read as dashes).
MANAGED_ROLLOUT_FLAGS: dict[str, str] = {
    "--model": "trainer.model",
    "--host": "the runtime (it listens on 0.0.0.0)",
    "--port": "trainer.rollout.port",
    "--tensor-parallel-size": "trainer.rollout.tensor_parallel_size",
    "--max-model-len": "trainer.rollout.max_model_len",
    "--gpu-memory-utilization": "trainer.rollout.gpu_memory_utilization",
    "--dtype": "trainer.rollout.dtype",
    "--enforce-eager": "trainer.rollout.enforce_eager",
}


def check_trainer_generation(spec: StackSpec) -> list[Problem]:
    """generation: server needs a rollout section and GPUs; the other modes need no rollout."""
    trainer = spec.trainer
    if trainer is None:
        return []
    mode = trainer.generation
    if mode == "server" and trainer.rollout is None:
        return [(("trainer", "generation"),
                 "trainer.generation = 'server' generates on a paired rollout server; add"
                 " a trainer.rollout section (the rollout server's GPUs and port), or set trainer.generation"
                 " to colocate (GPU) or plain (CPU)")]
    if mode != "server" and trainer.rollout is not None:
        return [(("trainer", "rollout"),
                 f"trainer.rollout is set but trainer.generation = {mode!r} generates inside the"
                 " trainer; remove trainer.rollout or set trainer.generation: server")]
    if mode != "plain" and trainer.gpu_count == 0:
        return [(("trainer", "gpus"),
                 f"trainer.gpus = 0 (CPU) but trainer.generation = {mode!r} needs GPUs (vLLM, and"
                 " weight sync over NCCL); give trainer.gpus, or set trainer.generation: plain")]
    rollout = trainer.rollout
    if rollout is not None and rollout.gpu_count == 0:
        return [(("trainer", "rollout", "gpus"),
                 "trainer.rollout.gpus = 0: the rollout server receives weights over NCCL and"
                 " needs a GPU; set trainer.rollout.gpus to 1 or more")]
    return []


def check_rollout_parallelism(spec: StackSpec) -> list[Problem]:
    """The rollout server's tensor parallel size must use exactly its GPUs."""
    rollout = spec.trainer.rollout if spec.trainer else None
    if rollout is None or rollout.gpu_count == 0 or rollout.tensor_parallel_size == rollout.gpu_count:
        return []
    return [(("trainer", "rollout", "tensor_parallel_size"),
             f"trainer.rollout.tensor_parallel_size = {rollout.tensor_parallel_size} does not match"
             f" trainer.rollout.gpus = {rollout.gpus}; set it to {rollout.gpu_count}")]


def check_gpu_overlap(spec: StackSpec) -> list[Problem]:
    """The rollout server and the trainer must not share a GPU."""
    trainer = spec.trainer
    if trainer is None or trainer.rollout is None:
        return []
    rollout_ids, trainer_ids = trainer.rollout.gpu_ids, trainer.gpu_ids
    if rollout_ids is None or trainer_ids is None:
        return []  # counts are laid out side by side (rollout first), so they never overlap
    shared = sorted(set(rollout_ids) & set(trainer_ids))
    if not shared:
        return []
    free = [g for g in trainer_ids if g not in shared] or [max(rollout_ids + trainer_ids) + 1]
    return [(("trainer", "rollout", "gpus"),
             f"trainer.rollout.gpus = {rollout_ids} and trainer.gpus = {trainer_ids} share GPU"
             f" {shared[0]}; give each its own GPUs, for example trainer.gpus: {free}")]


def check_trainer_context(spec: StackSpec) -> list[Problem]:
    """Prompt plus completion tokens must fit in the rollout server's context."""
    trainer = spec.trainer
    if trainer is None or trainer.rollout is None or trainer.rollout.max_model_len is None:
        return []
    limit = trainer.rollout.max_model_len
    prompt, completion = trainer.max_prompt_length, trainer.max_completion_length
    if prompt + completion <= limit:
        return []
    fix = (f"lower trainer.max_completion_length to {limit - prompt}" if prompt < limit
           else f"lower trainer.max_prompt_length below {limit}")
    return [(("trainer", "max_completion_length"),
             f"trainer.max_prompt_length + trainer.max_completion_length = {prompt} + {completion}"
             f" = {prompt + completion} exceeds trainer.rollout.max_model_len = {limit}; {fix} or"
             f" raise trainer.rollout.max_model_len to {prompt + completion}")]


def check_generation_batch(spec: StackSpec) -> list[Problem]:
    """TRL groups each prompt's completions in one batch: the batch must divide into groups."""
    trainer = spec.trainer
    if trainer is None:
        return []
    batch = trainer.per_device_batch_size * trainer.gradient_accumulation_steps * trainer.processes
    if batch % trainer.num_generations == 0:
        return []
    divisors = [n for n in range(2, batch + 1) if batch % n == 0]
    fix = (f"set trainer.num_generations to one of {divisors}" if divisors else
           "raise trainer.per_device_batch_size")
    return [(("trainer", "num_generations"),
             f"trainer.num_generations = {trainer.num_generations} does not divide the generation"
             f" batch per_device_batch_size x gradient_accumulation_steps x processes ="
             f" {trainer.per_device_batch_size} x {trainer.gradient_accumulation_steps} x"
             f" {trainer.processes} = {batch}; {fix}, or make per_device_batch_size a multiple"
             f" of {trainer.num_generations}")]


def check_trainer_nodes(spec: StackSpec) -> list[Problem]:
    """A trainer across nodes needs a runtime that spans nodes (on CPU, one process per node
    over gloo; with GPUs, one per GPU over NCCL)."""
    trainer = spec.trainer
    if trainer is None or trainer.nodes == 1:
        return []
    problem = spans_nodes_problem(spec, ("trainer", "nodes"), trainer.nodes)
    return [problem] if problem else []


def check_rollout_ports(spec: StackSpec) -> list[Problem]:
    """Where all components share one host's ports, the rollout's API and the weight-sync group
    cannot listen on the same port."""
    rollout = spec.trainer.rollout if spec.trainer else None
    if rollout is None or not traits(spec.runtime.kind).loopback_services:
        return []
    if rollout.port != rollout.group_port:
        return []
    return [(("trainer", "rollout", "group_port"),
             f"trainer.rollout.group_port = {rollout.group_port} is also trainer.rollout.port, and on"
             f" {spec.runtime.kind} both listen on this host; set trainer.rollout.group_port to"
             f" another port, such as {rollout.port + 1}")]


@cache
def trainer_script() -> ModuleType:
    """container_scripts/train_grpo.py as a module (it imports only the standard library until
    it trains): the owner of the built-in rewards and of the columns they read."""
    spec = importlib.util.spec_from_file_location(
        "orchestrator_train_grpo", data_dir("container_scripts") / "train_grpo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def builtin_rewards() -> tuple[str, ...]:
    """The rewards train_grpo.py has built in."""
    return tuple(trainer_script().REWARDS)


def check_trainer_rewards(spec: StackSpec) -> list[Problem]:
    """Built-in reward names exist; exact_answer needs answers, keyword a keyword."""
    trainer = spec.trainer
    if trainer is None:
        return []
    known = builtin_rewards()
    problems: list[Problem] = []
    for index, name in enumerate(trainer.rewards):
        if ":" not in name and name not in known:
            problems.append((("trainer", "rewards", index),
                             f"trainer.rewards: unknown reward {name!r}; use {', '.join(known)},"
                             " or module:function importable in the trainer"))
    if "exact_answer" in trainer.rewards and trainer.dataset == "toy" and not trainer.dataset_path:
        problems.append((("trainer", "rewards"),
                         "trainer.rewards has exact_answer, which reads an 'answer' on each line,"
                         " and trainer.dataset is toy (no answers): set trainer.dataset_path to a"
                         " JSONL file with 'prompt' and 'answer'"))
    return problems


def check_trainer_dataset(spec: StackSpec) -> list[Problem]:
    """trainer.dataset_path: one source of prompts, a JSONL file of 'prompt' records holding
    the columns the rewards read (the first record without one named by line), that reaches
    the trainer on the runtime."""
    trainer = spec.trainer
    if trainer is None or not trainer.dataset_path:
        return []
    loc = ("trainer", "dataset_path")
    if trainer.dataset != "toy":
        return [(loc, f"trainer.dataset_path and trainer.dataset ({trainer.dataset}) both name"
                      " the prompts; keep one (dataset_path for a file on this machine)")]
    needed = trainer_script().needed_columns(
        trainer.rewards, {"keyword": trainer.reward_keyword or ""})
    try:
        found = check_dataset_file("custom", trainer.dataset_path, needed)
    except DatasetFileError as exc:
        return [(loc, f"trainer.dataset_path: {exc}")]
    return carried_problem(spec, loc, trainer.dataset_path, found)


TRAIN_CHECKS: tuple[Callable[[StackSpec], list[Problem]], ...] = (
    check_trainer_generation,
    check_rollout_parallelism,
    check_gpu_overlap,
    check_trainer_context,
    check_generation_batch,
    check_trainer_nodes,
    check_rollout_ports,
    check_trainer_rewards,
    check_trainer_dataset,
)
