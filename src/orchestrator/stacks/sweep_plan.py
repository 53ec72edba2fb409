"""What a sweep will do before it does it: which points remain, how many variants run at once
on which GPUs and ports, how many server starts, and the estimate. Starts nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orchestrator.analysis.search import most_probes
from orchestrator.config import LoadedConfig
from orchestrator.config.model import StackSpec
from orchestrator.config.sweep import settings_text
from orchestrator.config.sweep_matrix import Matrix, Point, ServerVariant
from orchestrator.errors import ConfigError
from orchestrator.fit import gpus
from orchestrator.names import Role
from orchestrator.plan import Component, Plan, build_bench_plan
from orchestrator.runtimes import traits
from orchestrator.stacks.estimate import Estimate, estimate
from orchestrator.terminal import safe


@dataclass(frozen=True)
class Slot:
    """One lane of a sweep: its own project name (so its containers, network and ports are
    its own), GPU ids and port offset. A sweep without fan-out has one, named as the project."""

    index: int
    project: str
    gpu_ids: tuple[int, ...] | None
    port_offset: int

    def spec_for(self, spec: StackSpec) -> StackSpec:
        """The variant's config as this slot runs it: its GPUs, its ports."""
        server = spec.server
        assert server is not None
        update: dict[str, object] = {}
        if self.port_offset:
            update["port"] = server.port + self.port_offset
            if server.host_port is not None:
                update["host_port"] = server.host_port + self.port_offset
        if self.gpu_ids is not None and server.gpu_count:
            update["gpus"] = list(self.gpu_ids[: server.gpu_count])
        if not update:
            return spec
        return spec.model_copy(update={"server": server.model_copy(update=update)})


@dataclass(frozen=True)
class SweepSetup:
    """A sweep ready to run: what remains, in which lanes, and its estimate."""

    matrix: Matrix
    pending: list[ServerVariant]  # variants with points left, in order
    todo: dict[str, list[Point]]  # by variant name
    done_before: int  # points already home (a resumed run)
    slots: list[Slot]
    server_starts: int
    estimate: Estimate


def prepare(loaded: LoadedConfig, done: set[str], host_gpus: int | None = None) -> SweepSetup:
    """The sweep of a loaded config; `done` holds the keys of points already home (resume).
    `host_gpus` (default: counted with nvidia-smi) is what fan-out may spread over."""
    matrix = loaded.matrix
    if matrix is None:
        raise ConfigError("the bench stack needs a server section (the model to serve and"
                          " benchmark); add server: {model: ...}, or run `orchestrator up train`")
    todo = {v.name: [p for p in matrix.points(v) if p.key not in done] for v in matrix.variants}
    pending = [v for v in matrix.variants if todo[v.name]]
    slots = _slots(loaded, pending, host_gpus)
    starts = _server_starts(loaded.project, pending, len(slots))
    points = {name: len(items) for name, items in todo.items()}
    search = matrix.search
    probes = most_probes(search.start, search.max, search.resolution) if search else 1
    guess = estimate(matrix, {name: count * probes for name, count in points.items()}, starts,
                     len(slots), Path(loaded.spec.results_dir))
    done_before = sum(len(matrix.points(v)) for v in matrix.variants) - sum(points.values())
    return SweepSetup(matrix, pending, todo, done_before, slots, starts, guess)


def _slots(loaded: LoadedConfig, pending: list[ServerVariant],
           host_gpus: int | None) -> list[Slot]:
    spec, project = loaded.spec, loaded.project
    asked = spec.sweep.parallel
    if asked == 1 or len(pending) <= 1:
        return [Slot(0, project, None, 0)]
    servers = [v.spec.server for v in pending if v.spec.server is not None]
    per_slot = max(s.gpu_count for s in servers)
    if any(s.gpu_ids is not None for s in servers):
        raise ConfigError(f"sweep.parallel = {asked} gives each variant its own GPUs; set"
                          " server.gpus to a count, not a list of ids")
    kind = spec.runtime.kind
    pins = traits(kind).pins_gpu_ids
    available = (host_gpus if host_gpus is not None else len(gpus.host_gpus())) if pins else None
    if asked == "auto":
        lanes = available // per_slot if per_slot and available is not None else 1
        lanes = max(1, min(lanes, len(pending)))
    else:
        lanes = min(int(asked), len(pending))
        if per_slot and available is not None and lanes * per_slot > available:
            raise ConfigError(
                f"sweep.parallel = {asked} needs {lanes} x {per_slot} GPU(s) = {lanes * per_slot},"
                f" but this host has {available}; lower sweep.parallel (or use auto) or"
                " server.gpus")
    if lanes == 1:
        return [Slot(0, project, None, 0)]
    return [
        Slot(i, f"{project}-s{i}",
             tuple(range(i * per_slot, (i + 1) * per_slot)) if per_slot and pins else None,
             i)
        for i in range(lanes)
    ]


def _server_starts(project: str, pending: list[ServerVariant], lanes: int) -> int:
    """Server starts: one per variant, less those whose server is the same as the variant
    before it (in one lane, the server is kept running); none for a server the tool does not
    start (client.server_url)."""
    if pending and pending[0].spec.client.server_url:
        return 0
    if lanes > 1:
        return len(pending)
    starts, previous = 0, None
    for variant in pending:
        plan = build_bench_plan(variant.spec, project)
        if previous is None or not runs_the_same_server(previous, plan):
            starts += 1
        previous = plan
    return starts


def runs_the_same_server(a: Plan, b: Plan) -> bool:
    """Whether two plans run the same server process (its wait budget and labels aside), so
    that a sweep keeps the running one."""
    def running(plan: Plan) -> Component:
        return replace(plan.component(Role.server), probe=None, labels={})

    return running(a) == running(b)


def print_setup(setup: SweepSetup, console: Console) -> None:
    """The matrix as a table, then the estimate (what --dry-run shows, and every sweep first)."""
    matrix = setup.matrix
    if len(matrix.variants) > 1 or matrix.swept["workload"] or setup.done_before:
        table = Table(title="sweep", title_justify="left")
        for header in ("variant", "server settings", "workloads", "points", "left"):
            table.add_column(header, no_wrap=header != "server settings")
        for variant in matrix.variants:
            works = matrix.workloads[variant.index]
            table.add_row(variant.name, safe(settings_text(variant.settings)) or "-",
                          safe("; ".join(settings_text(w.settings) for w in works if w.settings))
                          or "-",
                          str(len(matrix.points(variant))), str(len(setup.todo[variant.name])))
        console.print(table)
    if setup.done_before:
        console.print(f"resuming: {setup.done_before} point(s) already home are skipped")
    for line in measurement_lines(matrix):
        console.print(line, highlight=False)
    console.print(f"estimate: {setup.estimate.line()}", highlight=False)


# Server settings that change vLLM's compile cache key (a start with another value compiles).
COMPILE_KEY_FIELDS = ("model", "dtype", "max_num_seqs", "max_num_batched_tokens",
                      "max_model_len", "tensor_parallel_size", "pipeline_parallel_size")


def measurement_lines(matrix: Matrix) -> list[str]:
    """How each point is measured (prompts, seeds, warm-up, repeats) and which starts compile:
    what --dry-run and every sweep say before anything runs."""
    lines = []
    search = matrix.search
    if search is not None:
        most = most_probes(search.start, search.max, search.resolution)
        what = "concurrency" if search.over == "concurrency" else "request rate"
        lines.append(
            f"search: the capacity under the SLO by {what}, from {search.start:g} doubling (or"
            f" to where the SLO's percentiles extrapolate) to at most {search.max:g}, then"
            f" narrowing to {search.resolution:g}: at most {most}"
            " probe(s) per variant and workload, each a full point"
            + (f" of workload.num_prompts, at most {search.max_concurrency} in flight"
               if search.over == "request_rate" else "")
            + (f", run {matrix.repeats} times and judged on all its requests together"
               if matrix.repeats > 1 else ""))
    for work in {w.workload.model_dump_json(): w.workload
                 for works in matrix.workloads.values() for w in works}.values():
        concurrencies = ([] if search is not None and search.over == "request_rate" else
                         [int(search.start)] if search is not None else work.concurrency_points)
        counts = ", ".join(f"c{c} {work.prompts_at(c)}" for c in concurrencies) + (
            " (prompts per slot as probed)" if search is not None and concurrencies else "")
        first = concurrencies[0] if concurrencies else 1
        warm = work.warmup_count(first)
        lines.append(
            f"points: prompts per point {counts}"
            + (f" (at least {work.min_prompts_per_slot} per concurrency slot)"
               if work.min_prompts_per_slot and work.dataset != "conversations" else "")
            + ("; fresh prompts at every point" if work.fresh_per_point
               else "; the same prompts at every point")
            + (f"; warm-up {warm} request(s) before each server's first point" if warm
               else "; no warm-up: each server's first point is flagged cold")
            + (f"; {matrix.repeats} repeats (95% intervals)" if matrix.repeats > 1
               else "; 1 run per point (no intervals: set sweep.repeats)"))
    eager = [v for v in matrix.variants if v.spec.server and v.spec.server.enforce_eager]
    keys = [k for k in matrix.swept["server"]
            if k in COMPILE_KEY_FIELDS or k.startswith("flags.")]
    if keys and len(eager) < len(matrix.variants):
        lines.append(f"compile: the server variants differ in {', '.join(keys)}, which change"
                     " vLLM's compile key: each such start compiles anew (the compile cache"
                     " helps only a repeated setting)")
    return lines
