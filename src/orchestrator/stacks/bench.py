"""The bench stack: server up and healthy, one client exec per sweep point, results home.

Each point's JSON is copied back and the summary rewritten as soon as the point finishes, so a
crash or Ctrl-C keeps every finished point. Everything started is removed at the end unless
--keep was asked, whatever happened.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from orchestrator.config import LoadedConfig
from orchestrator.config.model import StackSpec
from orchestrator.errors import BenchmarkError, Interrupted
from orchestrator.names import Role
from orchestrator.plan import CLIENT_RESULTS_DIR, SCRIPTS_MOUNT, Plan, build_bench_plan
from orchestrator.results.bench_records import ResultFormatError, parse_result, write_summary
from orchestrator.results.run_folder import RunFolder, new_run_id
from orchestrator.runtime.base import Runtime
from orchestrator.stacks.signals import sigterm_as_interrupt
from orchestrator.stacks.startup import begin_run, finish_run, wait_for_ready
from orchestrator.terminal import plain

# What run_benchmark.sh (bench_points.py) prints when a point's result file is written.
POINT_DONE = re.compile(r"^=== done concurrency (\d+) -> (.*/)?(?P<name>[^/]+?)\s*$")


def sweep_argv(spec: StackSpec, run_id: str, concurrencies: list[int]) -> list[str]:
    """The `run_benchmark.sh` command that runs the sweep's points, in one bench process."""
    work = spec.workload
    argv = [
        "bash", f"{SCRIPTS_MOUNT}/run_benchmark.sh",
        "--list", ",".join(str(c) for c in concurrencies),
        "--num-prompts", str(work.num_prompts),
        "--input-len", str(work.input_len),
        "--output-len", str(work.output_len),
        "--dataset-name", work.dataset,
        "--request-rate", str(work.request_rate),
        "--temperature", str(work.temperature),
        "--seed", str(work.seed),
        "--results-dir", f"{CLIENT_RESULTS_DIR}/{run_id}",
        "--metadata", f"orchestrator_run={run_id}",
    ]  # fmt: skip
    if work.dataset_path:
        argv += ["--dataset-path", work.dataset_path]
    slo = {"ttft": work.slo.ttft_ms, "tpot": work.slo.tpot_ms, "e2el": work.slo.e2el_ms}
    goodput = " ".join(f"{k}:{v:g}" for k, v in slo.items() if v is not None)
    if goodput:
        argv += ["--goodput", goodput]
    if not work.ignore_eos:
        argv.append("--no-ignore-eos")
    return argv


def run_bench(loaded: LoadedConfig, runtime: Runtime, keep: bool, console: Console,
              detach: bool = False) -> RunFolder:
    """Run the whole bench stack; return the run folder. Raises OrchestratorError kinds.

    `detach` starts the stack and waits until it is ready, then leaves it running with no sweep.
    """
    spec, project = loaded.spec, loaded.project
    keep = keep or detach
    run_id = new_run_id()
    plan = build_bench_plan(spec, project, run_id)
    assert spec.server is not None  # build_bench_plan refuses a config without one
    folder, environment = begin_run(loaded, runtime, plan, spec.results_dir, console)
    started = time.monotonic()
    try:
        with sigterm_as_interrupt():
            runtime.up(plan)
            if plan.has(Role.server):
                environment.timings["server_ready_s"] = wait_for_ready(
                    plan, Role.server, runtime, console)
            environment.runtime = runtime.describe(plan)
            environment.write(folder)
            if not detach:
                environment.timings["sweep_s"] = _sweep(plan, spec, runtime, folder, run_id,
                                                        console, environment.point_wall_s)
    except KeyboardInterrupt:
        left = "the stack was left running (--keep)" if keep else "everything started was removed"
        raise Interrupted(f"interrupted; {left}, finished points are in {folder.path}") from None
    finally:
        finish_run(plan, runtime, folder, keep, environment, started)
    if not detach:
        _print_summary(folder, console)
    if keep:
        console.print(f"kept running: `orchestrator down -p {project}` removes it")
    return folder


def _sweep(plan: Plan, spec: StackSpec, runtime: Runtime, folder: RunFolder, run_id: str,
           console: Console, point_wall_s: dict[str, float]) -> float:
    """Run every sweep point in one bench process, each point's result copied home as soon as
    it is written; `point_wall_s` gets each point's wall time (the bench tool's own time; the
    first includes its start-up), so that orchestrator's overhead can be told apart."""
    start = time.monotonic()
    records: list[dict[str, Any]] = []
    points = spec.workload.concurrency_points
    pending = ""  # output not yet ended by a newline
    last_done = start

    def collect(concurrency: int) -> None:
        new_files = runtime.copy_out(plan, Role.client, f"{CLIENT_RESULTS_DIR}/{run_id}", folder.raw)
        for path in new_files:
            try:
                records.append(parse_result(path))
            except ResultFormatError as exc:
                raise BenchmarkError(f"concurrency {concurrency}: {exc}") from None
            write_summary(folder, records)

    def show(text: str) -> None:
        nonlocal pending, last_done
        console.out(plain(text), end="", highlight=False)
        folder.append_text("client.log", text)
        lines = (pending + text).split("\n")
        pending = lines.pop()
        for match in (POINT_DONE.match(line) for line in lines):
            if match:  # this point's result is written: home at once
                now = time.monotonic()
                point_wall_s[match.group(1)] = now - last_done
                last_done = now
                collect(int(match.group(1)))
                if not (folder.raw / match.group("name")).is_file():
                    raise BenchmarkError(f"concurrency {match.group(1)} finished but left no"
                                         " result file in the client")

    code = runtime.exec(plan, Role.client, sweep_argv(spec, run_id, points), show)
    collect(points[-1])
    done = {int(key) for key in point_wall_s}
    if code != 0:
        failed = next((c for c in points if c not in done), points[-1])
        raise BenchmarkError(
            f"run_benchmark.sh failed at concurrency {failed} (exit {code});"
            f" its output is in {folder.path / 'client.log'}"
        )
    missing = [c for c in points if c not in done]
    if missing:
        raise BenchmarkError(f"concurrency {missing[0]} finished but left no result file in the client")
    return time.monotonic() - start


def _print_summary(folder: RunFolder, console: Console) -> None:
    import json

    path = folder.path / "summary.json"
    records = json.loads(path.read_text()) if path.exists() else []
    table = Table(title=f"{folder.path}", title_justify="left")
    for header in ("conc", "req/s", "out tok/s", "TTFT ms", "p99 TTFT", "TPOT ms", "ITL ms",
                   "failed"):
        table.add_column(header, justify="right", no_wrap=True)
    for r in records:
        table.add_row(str(r["concurrency"]), _fmt(r["request_throughput"]),
                      _fmt(r["output_throughput"]), _fmt(r["mean_ttft_ms"]),
                      _fmt(r["p99_ttft_ms"]), _fmt(r["mean_tpot_ms"]), _fmt(r["mean_itl_ms"]),
                      str(r["failed"]))
    console.print(table)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}"
