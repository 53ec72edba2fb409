"""The way home of a training run left running (`up train -d`, `--keep`, or an `up` that died):
the run folder its trainer writes for, recorded while the stack exists, and the copy of what the
trainer has written so far into that folder (`orchestrator collect`, and `orchestrator down`
before it removes anything)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from orchestrator.config import load_saved
from orchestrator.errors import OrchestratorError, TrainingError
from orchestrator.files import state_home, write_atomic
from orchestrator.names import Role
from orchestrator.plan import TRAIN_OUTPUT_DIR, Plan, build_train_plan
from orchestrator.results.resume import checkpoints
from orchestrator.results.run_folder import CONFIG_FILE, RunFolder
from orchestrator.results.train_report import write_train_report
from orchestrator.runtime.base import Runtime
from orchestrator.stacks.startup import write_report


def copy_output(runtime: Runtime, plan: Plan, folder: Path, keep_checkpoints: int) -> list[Path]:
    """The trainer's output folder into the run folder `folder` (files the trainer rewrote, such
    as metrics.csv, replaced), then only the newest `keep_checkpoints` checkpoint-N/ kept there
    (trainer.save_total_limit; 0: all); the files written."""
    files = runtime.copy_out(plan, Role.trainer, TRAIN_OUTPUT_DIR, folder, keep_tree=True,
                             replace=True)
    if keep_checkpoints:
        for old in checkpoints(folder)[:-keep_checkpoints]:
            shutil.rmtree(old)
    return files


def _record(kind: str, project: str) -> Path:
    return state_home() / "trainers" / f"{kind}-{project}.json"


def remember(kind: str, project: str, folder: Path) -> None:
    """Record `folder` as where the project's trainer (on runtime `kind`) brings its output,
    and the folder `up` ran in (the run's config names paths relative to it)."""
    write_atomic(_record(kind, project), json.dumps({"run_folder": str(folder.resolve()),
                                                     "cwd": os.getcwd()}))


def forget(kind: str, project: str) -> None:
    """Drop the record (the stack is gone); nothing when there is none."""
    _record(kind, project).unlink(missing_ok=True)


def recorded_folder(kind: str, project: str) -> tuple[Path, Path] | None:
    """The run folder recorded for the project's trainer and the folder `up` ran in, or None."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(_record(kind, project).read_text(encoding="utf-8"))
        return Path(data["run_folder"]), Path(data["cwd"])
    return None


@dataclass(frozen=True)
class Collected:
    """What one copy brought home: the run folder and the number of files copied."""

    folder: Path
    files: int


def bring_home(runtime: Runtime, project: str, console: Console) -> Collected | None:
    """Copy what the project's trainer has written so far (its output folder: metrics,
    rollouts, checkpoints, the final model) and its whole log into its recorded run folder, and
    write the training report there; None when the project has no trainer. Safe to repeat:
    each copy replaces the files of the last. Raises TrainingError when the trainer's output
    cannot be brought home (no run folder on record, or the copy failed)."""
    if not any(row.component == Role.trainer.value for row in runtime.status(project)):
        return None
    recorded = recorded_folder(runtime.kind, project)
    if recorded is None or not (recorded[0] / CONFIG_FILE).is_file():
        raise TrainingError(
            f"project {project} has a trainer, but no run folder on record here to bring its"
            " output to (started from another machine or user?); collect it where it was"
            f" started, or `orchestrator down --discard -p {project}` removes it without it")
    folder, cwd = recorded
    try:
        # The plan as `up` made it: its relative paths (a dataset file) from where it ran.
        with contextlib.chdir(cwd):
            loaded = load_saved(folder / CONFIG_FILE, project, runtime.kind)
            plan = build_train_plan(loaded.spec, project, folder.name)
        trainer = loaded.spec.trainer
        files = copy_output(runtime, plan, folder, trainer.save_total_limit if trainer else 0)
        log = "".join(runtime.logs(project, Role.trainer))
    except OrchestratorError as exc:
        raise TrainingError(
            f"the trainer's output of project {project} could not be brought home to {folder}"
            f" ({exc}); nothing was removed; `orchestrator down --discard -p {project}` removes"
            " it without its output") from None
    run = RunFolder(folder)
    if log:
        run.write_text("trainer.log", log)
    write_report(run, console, write_train_report)
    return Collected(folder, len(files))
