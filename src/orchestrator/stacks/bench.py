"""The bench stack: a sweep of server variants, each started once (kept when the next is the
same), all its workload points run by one bench process, results home point by point.

Lanes (sweep.parallel) run variants at once, each with its own project name, GPUs and ports.
Every finished point is in the run folder at once, so Ctrl-C, a crash or a failed variant keeps
them, and `--resume` finishes the rest. Everything started is removed at the end unless --keep.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from orchestrator.config import LoadedConfig
from orchestrator.errors import BenchmarkError, ConfigError, Interrupted
from orchestrator.names import Role
from orchestrator.plan import build_bench_plan
from orchestrator.results.bench_summary import print_summary
from orchestrator.results.environment import RunEnvironment
from orchestrator.results.overhead import beyond_vllm
from orchestrator.results.report import report_run
from orchestrator.results.run_folder import RunFolder, new_run_id
from orchestrator.results.sweep_records import SweepRecords
from orchestrator.runtime.base import Runtime
from orchestrator.stacks.bench_lanes import Lane, SweepRun, meet_server, run_lanes, start_stack
from orchestrator.stacks.endpoint import not_applied, not_applied_line
from orchestrator.stacks.fit_check import check_variants, fit_record, inventory_here
from orchestrator.stacks.signals import shielded, sigterm_as_interrupt
from orchestrator.stacks.startup import begin_run, save_log, write_report
from orchestrator.stacks.sweep_plan import SweepSetup, prepare, print_setup
from orchestrator.terminal import safe


def run_bench(loaded: LoadedConfig, runtime: Runtime, keep: bool, console: Console,
              detach: bool = False, resume: RunFolder | None = None) -> RunFolder:
    """Run the whole bench sweep (or, resuming, what is left of one); return the run folder.
    Raises OrchestratorError kinds.

    `detach` starts the stack and waits until it is ready, then leaves it running with no sweep.
    """
    done = _done_points(loaded, resume)
    setup = prepare(loaded, done)
    if detach and len(setup.matrix.variants) > 1:
        raise ConfigError("-d starts one server, but sweep.server makes"
                          f" {len(setup.matrix.variants)} variants; drop -d or sweep.server")
    if resume is not None and not setup.pending:
        console.print(f"every point of {safe(resume.path)} is already home: nothing to run")
        return resume
    run_id = resume.path.name if resume else new_run_id()
    first = setup.pending[0] if setup.pending else setup.matrix.variants[0]
    first_plan = build_bench_plan(setup.slots[0].spec_for(first.spec), setup.slots[0].project,
                                  run_id)
    # A server the tool does not start has hardware of its own: nothing to check it against.
    fits = ({} if loaded.spec.client.server_url
            else check_variants(setup.pending, runtime.gpus(first_plan), console))
    for slot in setup.slots[1:]:  # each lane's ports and GPUs; the first is checked below
        runtime.preflight(build_bench_plan(slot.spec_for(first.spec), slot.project, run_id))
    lanes = [Lane(slot) for slot in setup.slots]
    # A server the tool does not start is asked what it serves before a run folder exists:
    # a wrong address or model name leaves nothing behind.
    endpoint = (meet_server(runtime, lanes[0], first, first_plan, console)
                if loaded.spec.client.server_url else None)
    try:
        folder, environment = begin_run(loaded, runtime, first_plan, loaded.spec.results_dir,
                                        console, existing=resume, preflighted=endpoint is not None)
    except BaseException:
        if endpoint is not None:
            with shielded():
                runtime.down(first_plan.project)
        raise
    print_setup(setup, console)
    records = SweepRecords.start(folder, setup.matrix,
                                 {name: fit_record(report) for name, report in fits.items()})
    if endpoint is not None:
        records.variants[first.name].server = "external"
        records.variants[first.name].compile_cache = "unknown"
        records.variants[first.name].endpoint = {**endpoint.as_json(),
                                                 "not_applied": not_applied(loaded.spec)}
    environment.sweep = {"variants": len(setup.matrix.variants),
                         "points": len(setup.matrix.all_points),
                         "points_before": setup.done_before, "parallel": len(setup.slots),
                         "estimate": setup.estimate.as_json()}
    environment.write(folder)
    keep = keep or detach
    started = time.monotonic()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                        console=console, transient=True)
    total = len(setup.matrix.all_points)
    task = progress.add_task("sweep", total=total, completed=setup.done_before)
    sweep = SweepRun(loaded, runtime, folder, records, console, progress, task,
                   single=len(setup.matrix.variants) == 1, variants_total=len(setup.pending))
    try:
        with sigterm_as_interrupt(), progress:
            if detach:
                if endpoint is None:  # a server met already has its client up
                    start_stack(sweep, lanes[0], first, first_plan)
            else:
                run_lanes(sweep, setup, lanes)
    except KeyboardInterrupt:
        sweep.stop.set()
        left = "the stack was left running (--keep)" if keep else "everything started was removed"
        raise Interrupted(f"interrupted; {left}, finished points are in {folder.path}"
                          f" (`orchestrator up bench --resume {folder.path}` finishes the"
                          " rest)") from None
    finally:
        _finish(sweep, lanes, keep, environment, started, setup)
    if sweep.failures:
        raise BenchmarkError(
            f"{len(sweep.failures)} of {len(setup.pending)} server variant(s) failed:"
            f" {sweep.failures[0]}; the other points are in {folder.path}"
            " (variants.json says what happened to each)")
    if not detach:
        print_summary(folder, records, console)
    if keep:
        projects = " and ".join(f"`orchestrator down -p {lane.slot.project}`" for lane in lanes
                                if lane.plan is not None)
        console.print(f"kept running: {projects or '`orchestrator down`'} removes it")
    return folder


def dry_run(loaded: LoadedConfig, console: Console, resume: RunFolder | None = None) -> None:
    """Print the matrix, server starts and the estimate; start nothing."""
    setup = prepare(loaded, _done_points(loaded, resume))
    if loaded.spec.client.server_url:
        console.print(not_applied_line(loaded.spec), highlight=False)
    else:
        check_variants(setup.pending, inventory_here(loaded.spec.runtime.kind), console,
                       count_only_warns=True)
    print_setup(setup, console)
    for slot in setup.slots if len(setup.slots) > 1 else []:
        gpus = f"GPUs {list(slot.gpu_ids)}" if slot.gpu_ids is not None else "no GPU ids"
        console.print(f"  lane {slot.index}: project {slot.project}, {gpus}, ports"
                      f" +{slot.port_offset}", highlight=False)
    console.print("dry run: nothing was started")


def _done_points(loaded: LoadedConfig, resume: RunFolder | None) -> set[str]:
    if resume is None or loaded.matrix is None:
        return set()
    from orchestrator.results.sweep_records import check_resumable

    check_resumable(resume, loaded.matrix)
    return {p.key for p in loaded.matrix.all_points
            if (resume.raw / p.variant.name / p.name).is_file()}


def _finish(sweep: SweepRun, lanes: list[Lane], keep: bool, environment: RunEnvironment,
            started: float, setup: SweepSetup) -> None:
    """Whatever happened: server logs kept, stacks removed unless `keep`, environment.json
    with the sweep's figures (estimate against actual)."""
    with shielded():
        for lane in lanes:
            if lane.plan is None:
                continue
            save_log(lane.plan, Role.server, sweep.runtime, sweep.folder,
                     name=None if sweep.single else f"server-{lane.owner}.log")
            if lane.bench is not None:  # Ctrl-C or a failure mid-variant: last, so that
                lane.bench.rescue()  # only a point ending in the moment before `down` is lost
            if not keep:
                sweep.runtime.down(lane.slot.project)
        wall = time.monotonic() - started
        environment.runtime = sweep.described or environment.runtime
        environment.point_wall_s = sweep.point_wall_s
        environment.timings.update({"total_s": wall, "ready_s_sum": sum(sweep.ready_s)})
        if sweep.ready_s:
            environment.timings["server_ready_s"] = sweep.ready_s[0]
        overhead = beyond_vllm(  # the points measured by this run, not a resumed run's
            wall, [asdict(v) for v in sweep.records.variants.values()],
            [row for key, row in sweep.records.rows.items() if key in sweep.point_wall_s])
        gpus = max((v.spec.server.total_gpus for v in setup.pending if v.spec.server), default=0)
        environment.sweep.update({
            "server_starts": sweep.starts, "points_measured": sweep.measured,
            "actual": {"wall_s": round(wall, 2), "gpu_hours": round(wall * gpus * len(lanes)
                                                                    / 3600, 3),
                       "beyond_vllm_s": round(overhead.beyond_s, 2),
                       "beyond_vllm_s_per_point": round(overhead.per_point_s, 2)},
        })
        with sweep.lock:
            sweep.records.write()
        environment.write(sweep.folder)
        if sweep.records.rows:
            write_report(sweep.folder, sweep.console, lambda path: report_run([path]))
