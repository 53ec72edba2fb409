"""Rules that relate several fields of a valid-shaped config.

Each check returns the location to blame and a message that names the fields, their values
and a fix. They run before anything starts.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.config.messages import dotted
from orchestrator.config.model import StackSpec
from orchestrator.config.plain_text import check_plain_text
from orchestrator.config.problems import Problem, spans_nodes_problem
from orchestrator.config.secrets import find_literals
from orchestrator.config.train_checks import MANAGED_ROLLOUT_FLAGS, TRAIN_CHECKS
from orchestrator.config.workload_checks import (
    check_concurrency,
    check_dataset,
    check_external_server,
    check_prompts_hold_concurrency,
    check_search,
)
from orchestrator.runtimes import traits
from orchestrator.serving import engine_of


def check_has_a_stack(spec: StackSpec) -> list[Problem]:
    """A config describes a server to benchmark, a trainer, or both."""
    if spec.server is not None or spec.trainer is not None:
        return []
    return [
        (
            ("server",),
            "server and trainer are both missing; add server (to benchmark) or trainer"
            " (to train) at the top level",
        )
    ]


def check_context_length(spec: StackSpec) -> list[Problem]:
    """Input plus output tokens must fit in the server's context (seed 002's run-time error).
    A server the tool does not start has a length of its own: asked at `up` (stacks/endpoint.py)."""
    if spec.server is None or spec.client.server_url:
        return []
    limit = spec.server.max_model_len
    work = spec.workload
    total = work.input_len + work.output_len
    if limit is None or total <= limit:
        return []
    head = (
        f"workload.input_len + workload.output_len = {work.input_len} + {work.output_len}"
        f" = {total} exceeds server.max_model_len = {limit}"
    )
    if work.input_len < limit:
        fix = f"lower workload.output_len to {limit - work.input_len} or raise server.max_model_len to {total}"
    else:
        fix = f"lower workload.input_len below {limit} or raise server.max_model_len to {total}"
    return [(("workload", "output_len"), f"{head}; {fix}")]


def check_parallelism(spec: StackSpec) -> list[Problem]:
    """tensor x pipeline parallel size must use exactly the GPUs given (on every node)."""
    server = spec.server
    if server is None:
        return []
    tp, pp, gpus = server.tensor_parallel_size, server.pipeline_parallel_size, server.gpu_count
    if gpus == 0:
        # On CPU each node (pod) runs one worker.
        if tp * pp == server.nodes:
            return []
        if server.nodes > 1:
            return [(("server", "tensor_parallel_size"),
                     f"server.gpus = 0 (CPU) runs one worker per node, but"
                     f" server.tensor_parallel_size x server.pipeline_parallel_size = {tp} x {pp}"
                     f" is not server.nodes = {server.nodes}; set server.tensor_parallel_size to"
                     f" {server.nodes} and server.pipeline_parallel_size to 1")]
        return [
            (
                ("server", "gpus"),
                f"server.gpus = 0 (CPU) runs one worker, but server.tensor_parallel_size x"
                f" server.pipeline_parallel_size = {tp} x {pp}; set both to 1 or give"
                f" {tp * pp} GPUs",
            )
        ]
    total = server.total_gpus
    if tp * pp == total:
        return []
    given = f"{server.gpus} ({gpus} GPUs)" if server.gpu_ids is not None else str(gpus)
    if server.nodes > 1:
        given += f" per node x server.nodes = {server.nodes} = {total} GPUs"
        fix = (
            f"set server.tensor_parallel_size to {gpus} and server.pipeline_parallel_size to"
            f" {server.nodes} (tensor parallel within a node, pipeline parallel across nodes)"
        )
    elif total % pp == 0:
        fix = f"set server.tensor_parallel_size to {total // pp} or give {tp * pp} GPUs"
    else:
        fix = f"give {tp * pp} GPUs"
    return [
        (
            ("server", "tensor_parallel_size"),
            f"server.tensor_parallel_size x server.pipeline_parallel_size = {tp} x {pp} = {tp * pp}"
            f" does not match server.gpus = {given}; {fix}",
        )
    ]


def check_multi_node(spec: StackSpec) -> list[Problem]:
    """A server across nodes needs an engine that can span them and a runtime that spans nodes."""
    server = spec.server
    if server is None or server.nodes == 1:
        return []
    engine = engine_of(server.engine)
    if engine.across_nodes is None:
        return [(("server", "nodes"), f"server.nodes = {server.nodes}: multi-node"
                 f" {engine.title} is not built yet (vLLM's is, with its own multi-node launch);"
                 " set server.nodes to 1 or server.engine to vllm")]
    problem = spans_nodes_problem(spec, ("server", "nodes"), server.nodes)
    return [problem] if problem else []


def check_extra_args(spec: StackSpec) -> list[Problem]:
    """extra_args must not set a flag that a config field already sets (e.g. a second --port),
    nor another engine's flag (the server's engine names what to write instead)."""
    lists: list[tuple[tuple[str, ...], list[str], dict[str, str]]] = []
    problems: list[Problem] = []
    if spec.server is not None:
        engine = engine_of(spec.server.engine)
        lists.append((("server",), spec.server.extra_args, engine.managed_flags()))
        for index, arg in enumerate(spec.server.extra_args):
            instead = engine.instead_of(_flag_name(arg))
            if instead:
                problems.append((("server", "extra_args", index),
                                 f"server.extra_args[{index}] = {arg!r} is not a flag of"
                                 f" {engine.title} (server.engine = {engine.name}); {instead}"))
    if spec.trainer is not None and spec.trainer.rollout is not None:
        lists.append((("trainer", "rollout"), spec.trainer.rollout.extra_args, MANAGED_ROLLOUT_FLAGS))
    for section, extra_args, managed in lists:
        for index, arg in enumerate(extra_args):
            flag = _flag_name(arg)
            owner = managed.get(flag)
            if owner:
                problems.append(
                    (
                        (*section, "extra_args", index),
                        f"{'.'.join(section)}.extra_args[{index}] = {arg!r} collides with {owner},"
                        f" which orchestrator passes as {flag}; remove it from extra_args"
                        + ("" if owner.startswith("the ") else f" and set {owner} instead"),
                    )
                )
    return problems


def _flag_name(arg: str) -> str:
    """The flag an argument sets, spelt with dashes: `--max_model_len=9`, `--port 9000`
    (one argument) and `--port` all name their flag with dashes."""
    if not arg.startswith("-") or not arg.strip():
        return arg
    name = arg.split("=", 1)[0].split(None, 1)[0]
    return name if not name.startswith("--") else "--" + name[2:].replace("_", "-")


def check_memory_limit(spec: StackSpec) -> list[Problem]:
    """A memory limit needs a runtime that enforces one (host processes have none)."""
    runtime = traits(spec.runtime.kind)
    if spec.server is None or spec.server.memory_limit is None or runtime.limits_memory:
        return []
    return [(("server", "memory_limit"),
             f"server.memory_limit = {spec.server.memory_limit} cannot be enforced on the"
             f" {runtime.title} runtime (host processes); remove it or use runtime.kind docker")]


def check_gpu_ids(spec: StackSpec) -> list[Problem]:
    """Runtimes that hand out GPUs by count (Kubernetes) cannot pin ids."""
    runtime = traits(spec.runtime.kind)
    if runtime.pins_gpu_ids:
        return []
    problems: list[Problem] = []
    for loc, ids in _gpu_fields(spec):
        if ids is not None:
            field = ".".join(loc)
            problems.append((loc, f"{field} = {ids} names GPU ids, which {runtime.title} cannot"
                                  f" pin; give a count ({field}: {len(ids)})"))
    return problems


def _gpu_fields(spec: StackSpec) -> list[tuple[tuple[str, ...], list[int] | None]]:
    fields: list[tuple[tuple[str, ...], list[int] | None]] = []
    if spec.server is not None:
        fields.append((("server", "gpus"), spec.server.gpu_ids))
    if spec.trainer is not None:
        fields.append((("trainer", "gpus"), spec.trainer.gpu_ids))
        if spec.trainer.rollout is not None:
            fields.append((("trainer", "rollout", "gpus"), spec.trainer.rollout.gpu_ids))
    return fields


def check_secrets(spec: StackSpec) -> list[Problem]:
    """No secret as text anywhere: env values, flags, URLs and token-shaped values are refused
    with the reference to use instead; the message never shows the value."""
    problems: list[Problem] = []
    for loc, what in find_literals(spec.model_dump(mode="python")):
        field = dotted(loc)
        section = dotted(loc[: 2 if loc[:2] == ("trainer", "rollout") else 1])
        name = str(loc[-1]) if what == "env" else "NAME"
        reference = f"{section}.env.{name}: {{from_env: {name}}}"
        if what == "env" and name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN") and section != "client":
            reference = f"{section.split('.')[0]}.hf_token: {{from_env: HF_TOKEN}}"
        fix = (f"pass it by reference instead: {reference} (a variable of the machine that runs"
               " orchestrator; on Kubernetes add k8s_secret and k8s_key)")
        if what == "env":
            problems.append((loc, f"{field} holds a secret as text; {fix}"))
        elif what == "url":
            problems.append((loc, f"{field} carries credentials (user:password@ or token@);"
                                  f" remove them and {fix}"))
        elif what == "token":
            problems.append((loc, f"{field} holds what looks like a secret token; never write one"
                                  f" in the config: {fix}"))
        else:
            problems.append((loc, f"{field} passes a secret on the command line ({what}); remove"
                                  f" it and {fix}"))
    return problems


CHECKS: tuple[Callable[[StackSpec], list[Problem]], ...] = (
    check_plain_text,
    check_has_a_stack,
    check_memory_limit,
    check_secrets,
    check_context_length,
    check_parallelism,
    check_multi_node,
    check_concurrency,
    check_prompts_hold_concurrency,
    check_extra_args,
    check_dataset,
    check_gpu_ids,
    check_search,
    check_external_server,
)


def cross_check(spec: StackSpec) -> list[Problem]:
    """Run every cross-field rule; return all problems found."""
    return [problem for check in (*CHECKS, *TRAIN_CHECKS) for problem in check(spec)]
