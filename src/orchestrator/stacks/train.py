"""The train stack: the rollout server up and healthy, then the trainer, its log streamed, and
its output (metrics.csv, rollouts.log, the final model) copied into the run folder.

The trainer's output is copied even when it fails or is interrupted, so the metrics and timing
lines of the steps that finished are kept. Everything started is removed at the end unless
--keep was asked, whatever happened.
"""

from __future__ import annotations

import contextlib
import csv
import re
import time
from pathlib import Path

from rich.console import Console

from orchestrator.config import LoadedConfig
from orchestrator.errors import Interrupted, TrainingError
from orchestrator.names import Role
from orchestrator.plan import Plan, build_train_plan
from orchestrator.results.run_folder import RunFolder, new_run_id
from orchestrator.results.train_report import write_train_report
from orchestrator.runtime.base import Runtime
from orchestrator.stacks.signals import sigterm_as_interrupt
from orchestrator.stacks.startup import begin_run, finish_run, wait_for_ready, write_report
from orchestrator.stacks.train_home import copy_output, forget, remember
from orchestrator.terminal import plain, safe

EXIT_AFTER_LOG_S = 120  # between the end of the trainer's log and its recorded exit
SAVED = re.compile(r"train_grpo\.py: checkpoint-\d+ saved\n")  # train_grpo.py's on_save line


def run_train(loaded: LoadedConfig, runtime: Runtime, keep: bool, console: Console,
              detach: bool = False, resume: RunFolder | None = None,
              checkpoint: Path | None = None) -> RunFolder:
    """Run the whole train stack; return the run folder. Raises OrchestratorError kinds.

    `detach` starts the stack and leaves it training: follow it with `orchestrator logs trainer -f`.
    `resume` (a run folder) with its `checkpoint`: the trainer goes on from that checkpoint and
    writes into the same folder.
    """
    spec, project = loaded.spec, loaded.project
    keep = keep or detach
    run_id = resume.path.name if resume is not None else new_run_id()
    plan = build_train_plan(spec, project, run_id, resume=checkpoint)
    trainer = spec.trainer
    assert trainer is not None  # build_train_plan refuses a config without one
    folder, environment = begin_run(loaded, runtime, plan, trainer.results_dir, console,
                                    with_raw=False, existing=resume)
    if checkpoint is not None:
        console.print(f"going on from {safe(checkpoint.name)} (trainer_state.json's step),"
                      " its metrics kept", highlight=False)
    limit = trainer.save_total_limit
    started = time.monotonic()
    collect_on_exit = False  # the trainer ran, and its output is not home yet
    # Until the stack is removed, `down` and `collect` (another shell, a later day) bring the
    # trainer's output here.
    remember(runtime.kind, project, folder.path)
    try:
        with sigterm_as_interrupt():
            if plan.has(Role.rollout):
                runtime.up(plan, [Role.rollout])
                environment.timings["rollout_ready_s"] = wait_for_ready(
                    plan, Role.rollout, runtime, console)
            collect_on_exit = not detach
            runtime.up(plan, [Role.trainer])
            environment.runtime = runtime.describe(plan)
            environment.write(folder)
            if not detach:
                train_start = time.monotonic()
                code = _follow(plan, runtime, folder, console, limit)
                environment.timings["train_s"] = time.monotonic() - train_start
                copy_output(runtime, plan, folder.path, limit)
                collect_on_exit = False
                if code != 0:
                    raise TrainingError(
                        f"the trainer exited with code {code}; its log is in"
                        f" {folder.path / 'trainer.log'} (what it wrote before is kept there too)"
                    )
    except KeyboardInterrupt:
        left = "the stack was left running (--keep)" if keep else "everything started was removed"
        raise Interrupted(f"interrupted; {left}, the steps that finished are in {folder.path}") from None
    finally:
        rescue = (lambda: _collect_what_was_written(plan, runtime, folder, limit)) \
            if collect_on_exit else None
        finish_run(plan, runtime, folder, keep, environment, started, first=rescue)
        if not keep:
            forget(runtime.kind, project)
    if detach:
        console.print(f"training in the background: `orchestrator logs trainer -f -p {project}`;"
                      f" `orchestrator collect -p {project}` brings home what it has written so"
                      f" far; `orchestrator down -p {project}` brings it all home and stops it")
    else:
        _print_summary(folder, console)
        page = write_report(folder, console, write_train_report)
        if page is not None:
            console.print(f"report: {safe(page)}", highlight=False)
        if keep:
            console.print(f"kept: `orchestrator down -p {project}` removes it")
    return folder


def _follow(plan: Plan, runtime: Runtime, folder: RunFolder, console: Console,
            keep_checkpoints: int) -> int:
    """Stream the trainer's log to the terminal and to trainer.log until it exits; bring each
    checkpoint home as soon as the trainer says it is saved."""
    tail = ""  # the log's end, so that a saved line split across two chunks is still seen
    for chunk in runtime.logs(plan.project, Role.trainer, follow=True):
        console.out(plain(chunk), end="", highlight=False)
        folder.append_text("trainer.log", chunk)
        tail = (tail + chunk)[-400:]
        if SAVED.search(tail):
            tail = ""
            copy_output(runtime, plan, folder.path, keep_checkpoints)
    # The log ends when the trainer does; the exit code follows at once.
    return runtime.wait(plan, Role.trainer, timeout_s=EXIT_AFTER_LOG_S)


def _collect_what_was_written(plan: Plan, runtime: Runtime, folder: RunFolder,
                              keep_checkpoints: int) -> None:
    """After a failure or Ctrl-C: copy whatever the trainer wrote (best effort)."""
    # The failure being reported matters more than this copy.
    with contextlib.suppress(Exception):
        copy_output(runtime, plan, folder.path, keep_checkpoints)


def _print_summary(folder: RunFolder, console: Console) -> None:
    metrics = folder.path / "metrics.csv"
    rows = []
    if metrics.exists():
        with metrics.open(encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("loss")]
    if rows:
        last = rows[-1]
        console.print(f"step {safe(last['step'])}: loss {safe(last['loss'])}, reward"
                      f" {safe(last.get('reward', '-'))}"
                      f" (metrics.csv has {len(rows)} logged steps)", highlight=False)
    final = folder.path / "final"
    if final.is_dir():
        console.print(f"final model: {safe(final)}", highlight=False)
    rollouts = folder.path / "rollouts.log"
    if rollouts.exists():
        console.print(f"rollout timing: `orchestrator analyze rollouts {safe(rollouts)}`",
                      highlight=False)
