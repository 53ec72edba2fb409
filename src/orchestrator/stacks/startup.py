"""What every stack does around its work: open the run folder, wait for a server with a
spinner, keep its log."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from orchestrator.config import LoadedConfig
from orchestrator.config.redact import redacted_config
from orchestrator.errors import StartupError
from orchestrator.names import SERVING_ROLES, Role, fields_of
from orchestrator.plan import Plan
from orchestrator.readiness import NotAlive, NotAnswering, TimedOut, wait_until_ready
from orchestrator.results.environment import RunEnvironment
from orchestrator.results.run_folder import CONFIG_FILE, RunFolder
from orchestrator.runtime.base import Runtime
from orchestrator.runtimes import traits
from orchestrator.stacks.signals import shielded
from orchestrator.terminal import safe

LOG_TAIL_LINES = 50


def begin_run(loaded: LoadedConfig, runtime: Runtime, plan: Plan, results_dir: str,
              console: Console, with_raw: bool = True,
              existing: RunFolder | None = None,
              preflighted: bool = False) -> tuple[RunFolder, RunEnvironment]:
    """Preflight (unless the caller did, and has started something since), then the run
    folder with the resolved config (secrets redacted), or the `existing` one of a resumed run;
    returns the folder and the record behind environment.json. Nothing is created when
    preflight refuses."""
    if not preflighted:
        runtime.preflight(plan)
    if existing is not None:
        folder = existing
    else:
        folder = RunFolder.create(Path(results_dir), plan.run_id, with_raw=with_raw)
        folder.write_yaml(CONFIG_FILE, {"project": loaded.project,
                                          **redacted_config(loaded.spec)})
    resumed = " (resumed)" if existing is not None else ""
    console.print(f"[bold]run {plan.run_id}[/bold]{resumed} ({loaded.project}, {runtime.kind},"
                  f" {plan.stack}) -> {safe(folder.path)}")
    return folder, RunEnvironment()


def finish_run(plan: Plan, runtime: Runtime, folder: RunFolder, keep: bool,
               environment: RunEnvironment, started: float,
               first: Callable[[], None] | None = None) -> None:
    """The end of every run, whatever happened, with Ctrl-C and SIGTERM ignored: `first` (a
    stack's own rescue of partial results), each server's whole log into the run folder (and
    the trainer's other ranks'), the stack removed unless `keep`, and the timings written into
    environment.json."""
    with shielded():
        if first is not None:
            first()
        for role in SERVING_ROLES:
            save_log(plan, role, runtime, folder)
        save_log(plan, Role.trainer, runtime, folder, from_rank=1)  # rank 0's was followed
        if not keep:
            runtime.down(plan.project)
        environment.timings["total_s"] = time.monotonic() - started
        environment.write(folder)


def wait_for_ready(plan: Plan, role: str, runtime: Runtime, console: Console,
                   progress: Progress | None = None) -> float:
    """Wait until `role` passes its readiness checks; return the seconds it took.

    Each new waiting state is printed once, so a log shows the progression. A component that
    dies, or is not ready within its probe's start-up budget (the role's startup_timeout),
    raises StartupError with its last log lines. The spinner is a line of `progress` when one
    is live (a sweep's), else its own.
    """
    probe = plan.component(role).probe
    assert probe is not None  # only components with a health probe are waited for
    budget_s, budget_field = probe.startup_budget_s, fields_of(role).field("startup_timeout")
    checks = runtime.readiness(plan, role)
    shown: list[str] = []

    def tick(waiting: str, _: float) -> None:
        assert progress is not None
        progress.update(task, description=f"{plan.project} {role}: {waiting}")
        if not isinstance(waiting, NotAnswering) and (not shown or shown[-1] != waiting):
            shown.append(waiting)
            console.print(f"  {role}: {safe(waiting)}", highlight=False)

    own = progress is None
    if progress is None:
        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=console, transient=True)
    with progress if own else contextlib.nullcontext():
        task = progress.add_task(f"{plan.project} starting the {role}", total=None)
        try:
            took = wait_until_ready(checks, alive=lambda: runtime.alive(plan, role),
                                    timeout_s=budget_s, on_tick=tick)
        except NotAlive as dead:
            log = tail_log(runtime, plan, role)
            follows = f"; its last {LOG_TAIL_LINES} log lines follow" if log.strip() else ""
            raise StartupError(
                f"the {role} {traits(runtime.kind).component_word} {plan.component(role).name}"
                f" {dead} while starting{follows}",
                details=log,
            ) from None
        except TimedOut as late:
            ranks = plan.component(role).nodes
            read = "its log below" if ranks == 1 else (
                f"the logs of its {ranks} ranks below (a worker that never joined shows there)")
            raise StartupError(
                f"the {role} was not ready within {budget_field} = {budget_s}s (still"
                f" waiting for {late}); raise {budget_field} or read {read}",
                details=tail_log(runtime, plan, role),
            ) from None
        finally:
            progress.remove_task(task)
    console.print(f"{role} ready in {took:.1f}s")
    return took


def save_log(plan: Plan, role: str, runtime: Runtime, folder: RunFolder,
             name: str | None = None, from_rank: int = 0) -> None:
    """Keep a component's whole log as `name` (default <role>.log) in the run folder, and each
    other rank's of a component across nodes beside it (<name>-rank<N>.log); `from_rank` 1
    leaves out rank 0's (kept as it was followed). Best effort: it may never have started."""
    if not plan.has(role):
        return
    stem = (name or f"{role}.log").removesuffix(".log")
    for rank in range(from_rank, plan.component(role).nodes):
        # A missing log must not hide the real failure.
        with contextlib.suppress(Exception):
            folder.write_text(f"{stem}-rank{rank}.log" if rank else f"{stem}.log",
                              "".join(runtime.logs(plan.project, role, replica=rank)))


def tail_log(runtime: Runtime, plan: Plan, role: str) -> str:
    """The last lines of a component's log, or "" when it has none; of a component across
    nodes, each rank's after rank 0's, under a line naming it (a worker that never joined
    says why in its own log)."""
    parts = []
    for rank in range(plan.component(role).nodes):
        try:
            log = "".join(runtime.logs(plan.project, role, tail=LOG_TAIL_LINES, replica=rank))
        except Exception:  # noqa: BLE001 - the log is a courtesy on top of the real error; a
            log = ""  # pod that never started has none
        if rank and log.strip():
            log = f"--- {role} rank {rank} ---\n{log}"
        parts.append(log)
    return "".join(parts)


def write_report(folder: RunFolder, console: Console,
                 build: Callable[[Path], tuple[Path, Path]]) -> Path | None:
    """Build the run's report (report.md, report.html) with `build`; return report.html. A
    failure is told in one line and its traceback kept in the run folder: the results are safe
    and the run's own outcome must not be hidden by the report."""
    import traceback

    try:
        return build(folder.path)[1]
    except Exception as exc:  # noqa: BLE001 - see above
        folder.write_text("report-error.log", traceback.format_exc())
        console.print(f"report not written ({type(exc).__name__}); details in"
                      f" {safe(folder.path / 'report-error.log')}", highlight=False)
        return None
