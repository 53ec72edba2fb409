"""A bench sweep while it runs: lanes (sweep.parallel slots) take server variants in turn, each
variant's server started (or kept when the same), its points run by one bench process, each
point brought home as it lands, the warm-up apart, a server that changed under a point caught."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import Progress

from orchestrator.analysis.server_start import ServerStart, server_start
from orchestrator.config import LoadedConfig
from orchestrator.config.sweep_matrix import Point, ServerVariant
from orchestrator.errors import BenchmarkError, OrchestratorError, ServerLostError
from orchestrator.names import Role
from orchestrator.plan import Plan, build_bench_plan
from orchestrator.results.bench_records import ResultFormatError, warmup_record
from orchestrator.results.report_tables import fmt
from orchestrator.results.run_folder import RunFolder
from orchestrator.results.sweep_records import SweepRecords, mark_server_lost
from orchestrator.runtime.base import Runtime
from orchestrator.serving import engine_of
from orchestrator.stacks.bench_process import (
    WARMUP_DIR,
    BenchProcess,
    PointResult,
    bench_argv,
    prompt_salt,
)
from orchestrator.stacks.endpoint import Endpoint, meet_endpoint, not_applied_line
from orchestrator.stacks.fit_check import measured
from orchestrator.stacks.server_watch import ServerWatch
from orchestrator.stacks.signals import shielded
from orchestrator.stacks.startup import save_log, wait_for_ready
from orchestrator.stacks.steering import Steering
from orchestrator.stacks.sweep_plan import (
    Slot,
    SweepSetup,
    runs_the_same_server,
)
from orchestrator.terminal import safe


@dataclass
class Lane:
    """A slot at run time: the stack running in it and the variant that started it."""

    slot: Slot
    plan: Plan | None = None
    owner: str = ""
    bench: BenchProcess | None = None  # the bench process running in it, until it is joined
    watch: ServerWatch | None = None  # its server as it was when ready (a server it started)


@dataclass
class SweepRun:
    """What the lanes share while a sweep runs."""

    loaded: LoadedConfig
    runtime: Runtime
    folder: RunFolder
    records: SweepRecords
    console: Console
    progress: Progress
    task: Any
    single: bool  # one server variant: logs keep their plain names
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    starts: int = 0
    measured: int = 0
    ready_s: list[float] = field(default_factory=list)
    point_wall_s: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    variants_total: int = 0  # to run in this invocation
    variants_begun: int = 0
    described: dict[str, Any] = field(default_factory=dict)  # the first stack's `describe`


def run_lanes(sweep: SweepRun, setup: SweepSetup, lanes: list[Lane]) -> None:
    """Each lane takes the next variant until none is left; one lane runs in this thread."""
    queue = list(setup.pending)
    queue_lock = threading.Lock()

    def next_variant() -> ServerVariant | None:
        with queue_lock:
            return queue.pop(0) if queue and not sweep.stop.is_set() else None

    def work(lane: Lane) -> None:
        while (variant := next_variant()) is not None:
            _run_variant(sweep, lane, variant, setup.todo[variant.name])

    if len(lanes) == 1:
        work(lanes[0])
        return
    errors: list[BaseException] = []

    def guarded(lane: Lane) -> None:
        try:
            work(lane)
        except BaseException as exc:  # noqa: BLE001 - reported in the main thread
            sweep.stop.set()
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(lane,), name=f"lane-{lane.slot.index}",
                                daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    if errors:
        raise errors[0]


def _run_variant(sweep: SweepRun, lane: Lane, variant: ServerVariant, points: list[Point]) -> None:
    """Start (or keep) the variant's server in this lane and run its points in one process.
    With several variants, a variant's failure is recorded and the sweep goes on."""
    record = sweep.records.variants[variant.name]
    record.slot = lane.slot.index
    record.status = "running"
    record.started_at = time.time()
    try:
        _measure(sweep, lane, variant, points)
    except OrchestratorError as exc:
        record.status = f"failed: {exc.lines[0] if exc.lines else exc}"
        if sweep.single or sweep.stop.is_set():
            raise
        sweep.failures.append(f"{variant.name}: {exc.lines[0] if exc.lines else exc}")
        sweep.console.print(f"[red]{variant.name} failed:[/red] {safe(record.status)}")
        _stop_lane(sweep, lane)
    else:
        record.status = "done"
    finally:
        record.ended_at = time.time()
        with sweep.lock:
            sweep.records.write()


def _measure(sweep: SweepRun, lane: Lane, variant: ServerVariant, points: list[Point]) -> None:
    spec = lane.slot.spec_for(variant.spec)
    plan = build_bench_plan(spec, lane.slot.project, sweep.folder.path.name)
    record = sweep.records.variants[variant.name]
    gpu_ids = plan.component(Role.server).gpus.ids if plan.has(Role.server) else None
    record.gpu_ids = list(gpu_ids) if gpu_ids is not None else None
    with sweep.lock:
        sweep.variants_begun += 1
        begun = sweep.variants_begun
    sweep.progress.update(sweep.task, description=f"variant {begun}/{sweep.variants_total}"
                          f" {variant.name}, point")
    log = "client.log" if sweep.single else f"client-{variant.name}.log"
    matrix = sweep.records.matrix
    steering = Steering(matrix, variant, record, lambda text: sweep.console.print(
        safe(text), highlight=False), lambda p: sweep.point_wall_s.get(p.key),
        sweep.loaded.spec.sweep.skip_saturated, on_count=lambda more: _more_points(sweep, more))
    searching = matrix.search is not None

    def on_point(result: PointResult) -> None:
        bench = lane.bench
        if bench is not None and bench.first_start is not None:
            record.measuring_s = round(time.monotonic() - bench.first_start, 2)
        lost = lane.watch.lost() if lane.watch is not None else None
        mark_server_lost(sweep.folder.raw / variant.name / result.point.name, lost)
        row = _point_home(sweep, result)
        if lost is not None:
            raise ServerLostError(
                f"{variant.name}: the server changed while {result.point.workload.name}"
                f" concurrency {result.point.concurrency} ran: {lost}; that point is flagged"
                " server-lost (a resume measures it again)")
        if bench is not None and not sweep.stop.is_set():
            steering.after(result.point, row, bench)

    met = not plan.has(Role.server)  # run_bench met the server and started the client
    if not met and lane.plan is not None and runs_the_same_server(lane.plan, plan):
        record.server, record.compile_cache = "kept", "kept"
        sweep.console.print(f"{variant.name}: the server of {lane.owner} is the same; kept")
        argv = bench_argv(spec, lane.plan, variant, points, None,
                          more_to_come=searching, steered=steering.steers_grid)
        lane.bench = BenchProcess(sweep.runtime, lane.plan, sweep.folder, variant, points, argv,
                                  log, on_point, sweep.stop, prompt_salt(spec, plan.run_id))
        lane.bench.start().join()
        lane.bench = None
        return
    if not met:
        _stop_lane(sweep, lane)
    argv = bench_argv(spec, plan, variant, points,
                      _probe_budget(plan), warmup=True, more_to_come=searching,
                      steered=steering.steers_grid)
    lane.bench = BenchProcess(sweep.runtime, plan, sweep.folder, variant, points, argv, log,
                              on_point, sweep.stop, prompt_salt(spec, plan.run_id),
                              on_warmup=lambda wall_s: _warmup_home(sweep, variant, wall_s))
    if met:
        lane.bench.start()
        sweep.described = sweep.described or sweep.runtime.describe(plan)
    else:
        start_stack(sweep, lane, variant, plan, lane.bench)
    lane.bench.join()
    lane.bench = None


def _more_points(sweep: SweepRun, more: int) -> None:
    """A search added a probe (+1), or a grid skipped points (-n): the progress total follows."""
    task = sweep.progress.tasks[0]
    sweep.progress.update(sweep.task, total=max(0, int(task.total or 0) + more))


def _warmup_home(sweep: SweepRun, variant: ServerVariant, wall_s: float) -> None:
    """The variant's warm-up is home: into its record, and one line on screen."""
    path = sweep.folder.path / WARMUP_DIR / f"{variant.name}.json"
    try:
        warmup = warmup_record(path, wall_s)
    except ResultFormatError as exc:
        raise BenchmarkError(f"{variant.name}: the warm-up's result: {exc}") from None
    with sweep.lock:
        sweep.records.variants[variant.name].warmup = warmup
        sweep.records.write()
    sweep.console.print(f"{variant.name}: warm-up {warmup['requests']} request(s) apart: TTFT"
                        f" {fmt(warmup['mean_ttft_ms'])} ms,"
                        f" {fmt(warmup['duration'])} s, {warmup['failed']} failed",
                        highlight=False)


def start_stack(sweep: SweepRun, lane: Lane, variant: ServerVariant, plan: Plan,
           bench: BenchProcess | None = None) -> None:
    """Start the lane's stack and wait for its server; the bench process (when given) starts
    as soon as the client exists, so its import overlaps the server's start-up."""
    record = sweep.records.variants[variant.name]
    settings = f" ({safe(', '.join(f'{k}={v}' for k, v in variant.settings.items()))})"
    sweep.console.print(f"{variant.name}: starting the server{settings if variant.settings else ''}",
                        highlight=False)
    lane.plan, lane.owner = plan, variant.name
    sweep.runtime.up(plan)
    with sweep.lock:
        sweep.starts += 1
    record.server = "started"
    if bench is not None:
        bench.start()
    ready = wait_for_ready(plan, Role.server, sweep.runtime, sweep.console, sweep.progress)
    lane.watch = ServerWatch.now(sweep.runtime, plan.project)
    record.ready_s = round(ready, 2)
    start = _server_start(sweep.runtime, plan, ready)
    record.compile_cache, record.startup = start.compile, start.as_json()
    title = engine_of(plan.component(Role.server).engine).title
    sweep.console.print(f"{variant.name}: ready in {ready:.1f} s ({title}'s log: {start.text()})",
                        highlight=False)
    kv_line = measured(record.fit, start)
    if kv_line:
        sweep.console.print(f"{variant.name}: {kv_line}", highlight=False)
    with sweep.lock:
        sweep.ready_s.append(ready)
        sweep.records.write()
    if not sweep.described:
        sweep.described = sweep.runtime.describe(plan)


def meet_server(runtime: Runtime, lane: Lane, variant: ServerVariant, plan: Plan,
          console: Console) -> Endpoint:
    """A server the tool did not start: start the client alone and ask the server from there
    what it serves; on EndpointError (or anything else) the client is removed again."""
    console.print(not_applied_line(plan_spec := variant.spec), highlight=False)
    runtime.preflight(plan)
    lane.plan, lane.owner = plan, variant.name
    try:
        runtime.up(plan)
        endpoint = meet_endpoint(runtime, plan, plan_spec)
    except BaseException:
        with shielded():
            runtime.down(plan.project)
        lane.plan = None
        raise
    console.print(f"{variant.name}: {endpoint.text()}", highlight=False)
    return endpoint


def _probe_budget(plan: Plan) -> int | None:
    """How long the bench process waits for a server the stack starts (None: none started)."""
    if not plan.has(Role.server):
        return None
    probe = plan.component(Role.server).probe
    assert probe is not None
    return probe.startup_budget_s


def _point_home(sweep: SweepRun, result: PointResult) -> dict[str, Any]:
    """A point's file is home: its summary row (returned), the records rewritten, progress
    advanced."""
    point = result.point
    path = sweep.folder.raw / point.variant.name / point.name
    with sweep.lock:
        row = sweep.records.add(point, path)
        sweep.records.variants[point.variant.name].points_measured += 1
        sweep.measured += 1
        if result.wall_s is not None:
            sweep.point_wall_s[point.key] = result.wall_s
        sweep.records.write()
    sweep.progress.advance(sweep.task)
    done = int(sweep.progress.tasks[0].completed)
    sweep.console.print(
        f"  [{done}/{int(sweep.progress.tasks[0].total or done)}] {point.variant.name}"
        f" {point.workload.name} c{point.concurrency}"
        + (f" r{point.repeat}" if point.repeat else "")
        + (f" {point.rate:g} req/s" if point.rate is not None else "")
        + f": {fmt(row.get('output_throughput'))} out tok/s, TTFT {fmt(row.get('mean_ttft_ms'))}"
        f" ms, TPOT {fmt(row.get('mean_tpot_ms'))} ms, {row.get('failed')} failed",
        highlight=False)
    return row


def _server_start(runtime: Runtime, plan: Plan, ready_s: float) -> ServerStart:
    """What the start did, from the server's log so far (compile state "unknown" without one)."""
    server = plan.component(Role.server)
    engine = engine_of(server.engine)
    log = ""
    if engine.start_log:
        try:
            log = "".join(runtime.logs(plan.project, Role.server))
        except Exception:  # noqa: BLE001 - the figures are a courtesy; the server is ready
            log = ""
    return server_start(log, ready_s, engine.flag_of("enforce_eager") in server.argv)


def _stop_lane(sweep: SweepRun, lane: Lane) -> None:
    """Keep the lane's server log (server-<variant>.log) and remove its stack."""
    if lane.plan is None:
        return
    with shielded():
        save_log(lane.plan, Role.server, sweep.runtime, sweep.folder,
                 name=None if sweep.single else f"server-{lane.owner}.log")
        sweep.runtime.down(lane.slot.project)
    lane.plan, lane.watch = None, None


