"""Rules that relate several fields of a valid-shaped config.

Each check returns the location to blame and a message that names the fields, their values
and a fix. They run before anything starts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from orchestrator.config.dataset_files import DatasetFileError, check_dataset_file
from orchestrator.config.messages import dotted
from orchestrator.config.model import MAX_CONCURRENCY, ConcurrencyRange, StackSpec, Workload
from orchestrator.config.plain_text import check_plain_text
from orchestrator.config.problems import Problem, carried_problem, spans_nodes_problem
from orchestrator.config.secrets import find_literals
from orchestrator.config.source import Loc
from orchestrator.config.train_checks import MANAGED_ROLLOUT_FLAGS, TRAIN_CHECKS
from orchestrator.runtimes import kinds_with, traits
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


def check_concurrency(spec: StackSpec) -> list[Problem]:
    """A concurrency range must run upwards; a list must not repeat a value."""
    concurrency = spec.workload.concurrency
    loc: Loc = ("workload", "concurrency")
    if isinstance(concurrency, ConcurrencyRange):
        if concurrency.min > concurrency.max:
            return [
                (
                    loc,
                    f"workload.concurrency.min = {concurrency.min} is above"
                    f" workload.concurrency.max = {concurrency.max}; swap them",
                )
            ]
        return []
    repeated = sorted(c for c, n in Counter(concurrency).items() if n > 1)
    if repeated:
        return [(loc, f"workload.concurrency = {concurrency} lists {repeated[0]} twice; keep one")]
    return []


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


def check_dataset(spec: StackSpec) -> list[Problem]:
    """Datasets other than random read a file on this machine: it must exist and hold records
    of the right shape (the first bad one named by line), and reach the client on the runtime."""
    work = spec.workload
    loc = ("workload", "dataset_path")
    if work.dataset != "random" and not work.dataset_path:
        return [(("workload", "dataset"),
                 f"workload.dataset = {work.dataset!r} reads prompts from a file; set"
                 " workload.dataset_path to a file on this machine, or use dataset: random")]
    if work.dataset == "random" and work.dataset_path:
        return [(loc, "workload.dataset_path is set but workload.dataset = 'random' makes up its"
                      " prompts; remove dataset_path or choose custom, sharegpt or"
                      " conversations")]
    if work.replay != "live" and work.dataset != "conversations":
        return [(("workload", "replay"), f"workload.replay = {work.replay!r} is for dataset:"
                                         " conversations; remove it")]
    if not work.dataset_path:
        return []
    try:
        found = check_dataset_file(work.dataset, work.dataset_path)
    except DatasetFileError as exc:
        return [(loc, f"workload.dataset_path: {exc}")]
    return carried_problem(spec, loc, work.dataset_path, found)


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


def check_prompts_hold_concurrency(spec: StackSpec) -> list[Problem]:
    """A point that sends fewer prompts than its concurrency can never hold that many requests
    in flight: its figures would be ramp-up and tail only."""
    work = spec.workload
    if spec.server is None:
        return []
    short = [c for c in work.concurrency_points if work.prompts_at(c) < c]
    if not short:
        return []
    c = max(short)
    what = "conversations" if work.dataset == "conversations" else "prompts"
    fix = (f"raise workload.num_prompts to {c}" if work.dataset == "conversations" else
           f"raise workload.num_prompts to {c} or workload.min_prompts_per_slot to 1 or more")
    return [(("workload", "num_prompts"),
             f"workload.num_prompts = {work.num_prompts} {what} are fewer than workload.concurrency"
             f" {c}: that point could never hold {c} requests in flight; {fix}, or drop"
             f" concurrency {c}")]


def check_search(spec: StackSpec) -> list[Problem]:
    """A capacity search needs an SLO to search under, one run per probe, a range to search
    and whole numbers for a concurrency; it picks the values the grid fields would give."""
    search = spec.sweep.search
    if search is None:
        return []
    where = ("sweep", "search")
    slo = spec.workload.slo
    if spec.server is None:
        return [(where, "sweep.search measures a server; add server: {model: ...}")]
    problems: list[Problem] = []
    if all(v is None for v in (slo.ttft_ms, slo.tpot_ms, slo.e2el_ms)):
        problems.append((where, "sweep.search finds the capacity under workload.slo, which sets"
                         " none; set workload.slo.ttft_ms (or tpot_ms, e2el_ms)"))
    if search.start > search.max:
        problems.append(((*where, "start"), f"sweep.search.start = {search.start:g} is above"
                         f" sweep.search.max = {search.max:g}; swap them"))
    if search.over == "concurrency":
        for name in ("start", "max", "resolution"):
            value = getattr(search, name)
            if value != int(value):
                problems.append(((*where, name), f"sweep.search.{name} = {value:g} must be a"
                                 " whole number of requests when searching concurrency"))
        if search.max > MAX_CONCURRENCY:
            problems.append(((*where, "max"), f"sweep.search.max = {search.max:g} is above the"
                             f" highest concurrency, {MAX_CONCURRENCY}"))
    field = "concurrency" if search.over == "concurrency" else "request_rate"
    swept = spec.sweep.workload
    varied = (field in swept if isinstance(swept, dict) else any(field in w for w in swept))
    # Compared with the default, not with what was given: a run folder's config.yaml writes
    # every field, and is read back by `report` and --resume.
    default = Workload().model_dump()[field]
    if (spec.workload.model_dump()[field] != default or varied
            or f"workload.{field}" in spec.sweep.link):
        problems.append((("workload", field), f"sweep.search picks workload.{field}'s values;"
                         f" drop workload.{field} (and any sweep or link of it)"))
    if spec.workload.dataset == "conversations":
        problems.append((("workload", "dataset"), "sweep.search runs prompt datasets; the"
                         " conversations replay is measured by a grid"))
    return problems


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def check_external_server(spec: StackSpec) -> list[Problem]:
    """client.server_url benchmarks a server the tool does not start: nothing may change its
    settings (server variants, lanes of their own), and its address must be one the client can
    reach where the client runs."""
    url = spec.client.server_url
    if url is None:
        return []
    where = ("client", "server_url")
    problems: list[Problem] = []
    sweep = spec.sweep
    if sweep.server or any(str(to).startswith("server.") for to in sweep.link.values()):
        problems.append((("sweep", "server"), f"client.server_url = {url} benchmarks a server the"
                         " tool does not start, so server variants cannot be run; drop"
                         " sweep.server (and links to server fields) or client.server_url"))
    if sweep.parallel != 1:
        problems.append((("sweep", "parallel"), f"sweep.parallel = {sweep.parallel} runs lanes"
                         " of their own servers, but client.server_url names one server; set"
                         " sweep.parallel to 1"))
    parts = urlsplit(url)
    if parts.path.strip("/"):
        problems.append((where, f"client.server_url = {url} has a path ({parts.path}); give the"
                         f" server's root, {parts.scheme}://{parts.netloc}: the benchmark adds"
                         " /v1/completions itself"))
    host = (parts.hostname or "").lower()
    runtime = traits(spec.runtime.kind)
    if host in LOOPBACK_HOSTS and not runtime.loopback_services:
        try:
            port = str(parts.port or "PORT")
        except ValueError:  # not a port number: the fix names none
            port = "PORT"
        fix = (f"use http://{runtime.host_alias}:{port} (the client reaches this host by that"
               " name)" if runtime.host_alias else "use the server's Service or node address")
        problems.append((where, f"client.server_url = {url} is loopback, but the client runs"
                         f" in a {runtime.title} {runtime.component_word}, where that is itself;"
                         f" {fix}"))
    aliased = kinds_with(lambda other: other.host_alias == host)
    if aliased and runtime.host_alias != host:
        titles = " or ".join(traits(kind).title for kind in aliased)
        problems.append((where, f"client.server_url = {url}: {host} names the host only on"
                         f" {titles}, not on {runtime.title}; use the server's address there"))
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
