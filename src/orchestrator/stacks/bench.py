"""The bench stack: a sweep of server variants, each started once (kept when the next is the
same), all its workload points run by one bench process, results home point by point.

Lanes (sweep.parallel) run variants at once, each with its own project name, GPUs and ports.
Every finished point is in the run folder at once, so Ctrl-C, a crash or a failed variant keeps
them, and `--resume` finishes the rest. Everything started is removed at the end unless --keep.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from orchestrator.analysis.server_start import ServerStart, server_start
from orchestrator.config import LoadedConfig
from orchestrator.config.sweep import Point, ServerVariant
from orchestrator.errors import (
    BenchmarkError,
    ConfigError,
    Interrupted,
    OrchestratorError,
    ServerLostError,
)
from orchestrator.names import Role
from orchestrator.plan import Plan, build_bench_plan
from orchestrator.results.bench_records import ResultFormatError, warmup_record
from orchestrator.results.environment import RunEnvironment
from orchestrator.results.overhead import beyond_vllm
from orchestrator.results.report import report_run
from orchestrator.results.run_folder import RunFolder, new_run_id
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
from orchestrator.stacks.endpoint import Endpoint, meet_endpoint, not_applied, not_applied_line
from orchestrator.stacks.fit_check import check_variants, fit_record, inventory_here, measured
from orchestrator.stacks.server_watch import ServerWatch
from orchestrator.stacks.signals import shielded, sigterm_as_interrupt
from orchestrator.stacks.startup import begin_run, save_log, wait_for_ready, write_report
from orchestrator.stacks.steering import Steering
from orchestrator.stacks.sweep_plan import (
    Slot,
    SweepSetup,
    prepare,
    print_setup,
    runs_the_same_server,
)
from orchestrator.terminal import safe


@dataclass
class _Lane:
    """A slot at run time: the stack running in it and the variant that started it."""

    slot: Slot
    plan: Plan | None = None
    owner: str = ""
    bench: BenchProcess | None = None  # the bench process running in it, until it is joined
    watch: ServerWatch | None = None  # its server as it was when ready (a server it started)


@dataclass
class _Sweep:
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
    lanes = [_Lane(slot) for slot in setup.slots]
    # A server the tool does not start is asked what it serves before a run folder exists:
    # a wrong address or model name leaves nothing behind.
    endpoint = (_meet(runtime, lanes[0], first, first_plan, console)
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
    sweep = _Sweep(loaded, runtime, folder, records, console, progress, task,
                   single=len(setup.matrix.variants) == 1, variants_total=len(setup.pending))
    try:
        with sigterm_as_interrupt(), progress:
            if detach:
                if endpoint is None:  # a server met already has its client up
                    _start(sweep, lanes[0], first, first_plan)
            else:
                _run_lanes(sweep, setup, lanes)
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
        _print_summary(folder, records, console)
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


def _run_lanes(sweep: _Sweep, setup: SweepSetup, lanes: list[_Lane]) -> None:
    """Each lane takes the next variant until none is left; one lane runs in this thread."""
    queue = list(setup.pending)
    queue_lock = threading.Lock()

    def next_variant() -> ServerVariant | None:
        with queue_lock:
            return queue.pop(0) if queue and not sweep.stop.is_set() else None

    def work(lane: _Lane) -> None:
        while (variant := next_variant()) is not None:
            _run_variant(sweep, lane, variant, setup.todo[variant.name])

    if len(lanes) == 1:
        work(lanes[0])
        return
    errors: list[BaseException] = []

    def guarded(lane: _Lane) -> None:
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


def _run_variant(sweep: _Sweep, lane: _Lane, variant: ServerVariant, points: list[Point]) -> None:
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


def _measure(sweep: _Sweep, lane: _Lane, variant: ServerVariant, points: list[Point]) -> None:
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
        argv = bench_argv(spec, lane.slot.project, plan.run_id, variant, points, None,
                          more_to_come=searching, steered=steering.steers_grid)
        lane.bench = BenchProcess(sweep.runtime, lane.plan, sweep.folder, variant, points, argv,
                                  log, on_point, sweep.stop, prompt_salt(spec, plan.run_id))
        lane.bench.start().join()
        lane.bench = None
        return
    if not met:
        _stop_lane(sweep, lane)
    argv = bench_argv(spec, lane.slot.project, plan.run_id, variant, points,
                      _probe_budget(plan), warmup=True, more_to_come=searching,
                      steered=steering.steers_grid)
    lane.bench = BenchProcess(sweep.runtime, plan, sweep.folder, variant, points, argv, log,
                              on_point, sweep.stop, prompt_salt(spec, plan.run_id),
                              on_warmup=lambda wall_s: _warmup_home(sweep, variant, wall_s))
    if met:
        lane.bench.start()
        sweep.described = sweep.described or sweep.runtime.describe(plan)
    else:
        _start(sweep, lane, variant, plan, lane.bench)
    lane.bench.join()
    lane.bench = None


def _more_points(sweep: _Sweep, more: int) -> None:
    """A search added a probe (+1), or a grid skipped points (-n): the progress total follows."""
    task = sweep.progress.tasks[0]
    sweep.progress.update(sweep.task, total=max(0, int(task.total or 0) + more))


def _warmup_home(sweep: _Sweep, variant: ServerVariant, wall_s: float) -> None:
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
                        f" {_fmt(warmup['mean_ttft_ms'])} ms,"
                        f" {_fmt(warmup['duration'])} s, {warmup['failed']} failed",
                        highlight=False)


def _start(sweep: _Sweep, lane: _Lane, variant: ServerVariant, plan: Plan,
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


def _meet(runtime: Runtime, lane: _Lane, variant: ServerVariant, plan: Plan,
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


def _point_home(sweep: _Sweep, result: PointResult) -> dict[str, Any]:
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
        + f": {_fmt(row.get('output_throughput'))} out tok/s, TTFT {_fmt(row.get('mean_ttft_ms'))}"
        f" ms, TPOT {_fmt(row.get('mean_tpot_ms'))} ms, {row.get('failed')} failed",
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


def _stop_lane(sweep: _Sweep, lane: _Lane) -> None:
    """Keep the lane's server log (server-<variant>.log) and remove its stack."""
    if lane.plan is None:
        return
    with shielded():
        save_log(lane.plan, Role.server, sweep.runtime, sweep.folder,
                 name=None if sweep.single else f"server-{lane.owner}.log")
        sweep.runtime.down(lane.slot.project)
    lane.plan, lane.watch = None, None


def _finish(sweep: _Sweep, lanes: list[_Lane], keep: bool, environment: RunEnvironment,
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


def _print_summary(folder: RunFolder, records: SweepRecords, console: Console) -> None:
    """The points as a table (goodput and flags when any), then the answers: the best variant
    and each series' capacity under the SLO, one line each."""
    from orchestrator.results.answers import series_answers
    from orchestrator.results.best import best_points

    rows = records.ordered_rows()
    table = Table(title=f"{folder.path}", title_justify="left")
    several = len(records.matrix.variants) > 1 or bool(records.matrix.swept["workload"])
    goodput = any(r.get("request_goodput") is not None for r in rows)
    flagged = any(r.get("flags") for r in rows)
    headers = (["variant", "settings"] if several else []) + [
        "conc", "req/s", "out tok/s", "steady tok/s", "TTFT ms", "p99 TTFT", "TPOT ms",
        "prefix hits", "failed"]
    replay = any(r.get("time_to_finish_s") is not None for r in rows)
    headers += (["finish s", "conv/s"] if replay else [])
    headers += (["goodput", "SLO met"] if goodput else []) + (["flags"] if flagged else [])
    for header in headers:
        table.add_column(header, no_wrap=True,
                         justify="left" if header in ("variant", "settings", "flags") else "right")
    for r in rows:
        settings = ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in r.items()
                             if k.startswith(("server.", "workload.")))
        cells = [f"{r['variant']} {r['workload']}", safe(settings)] if several else []
        hits = r.get("prefix_cache_hit_rate")
        rate = r.get("probe_rate")
        cells += [str(r["concurrency"]) + (f" at {rate:g}/s" if rate is not None else ""),
                  _fmt(r["request_throughput"]),
                  _fmt(r["output_throughput"]), _fmt(r.get("steady_output_throughput")),
                  _fmt(r["mean_ttft_ms"]), _fmt(r["p99_ttft_ms"]), _fmt(r["mean_tpot_ms"]),
                  "-" if hits is None else f"{hits:.1%}", str(r["failed"])]
        if replay:
            cells += [_fmt(r.get("time_to_finish_s")), _fmt(r.get("conversations_per_s"))]
        if goodput:
            met = r.get("slo_met")
            cells += [_fmt(r.get("request_goodput")), "-" if met is None else "yes" if met else "no"]
        if flagged:
            cells.append(r.get("flags") or "")
        table.add_row(*cells)
    console.print(table)
    points = {f"raw/{key}": p for key, p in records.points.items()}
    answers = series_answers(rows, points)
    best = next((b for b in best_points(_report_data(folder, records, rows, answers))
                 if b.row is not None), None)
    if best is not None and best.row is not None and best.value is not None and several:
        weak = f"; weakened by {' '.join(best.weak)}" if best.weak else ""
        console.print(f"best ({best.objective}): {best.row['variant']} {best.row['workload']} at"
                      f" concurrency {best.row['concurrency']}, {best.value.text()} out tok/s:"
                      f" {best.verdict}{weak}", highlight=False)
    for answer in answers:
        if answer.capacity is not None:
            knee = f", knee at concurrency {answer.knee.concurrency}" if answer.knee else ""
            spread = (f" (95% interval {answer.capacity_interval.text(1)})"
                      if answer.capacity_interval and answer.capacity_interval.half is not None
                      else " (one run: no interval yet)")
            console.print(f"capacity under the SLO: {answer.variant} {answer.workload}"
                          f" {answer.capacity.text()} concurrent requests{spread}{knee}",
                          highlight=False)
    if (folder.path / "report.html").is_file():
        console.print(f"report: {safe(folder.path / 'report.html')}", highlight=False)


def _report_data(folder: RunFolder, records: SweepRecords, rows: list[dict[str, Any]],
                 answers: list[Any]) -> Any:
    from dataclasses import asdict

    from orchestrator.results.best import ReportData

    server = records.matrix.variants[0].spec.server
    return ReportData(f"bench run {folder.path.name}", rows, answers,
                      [asdict(v) for v in records.variants.values()],
                      server.total_gpus if server else 0)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}"
