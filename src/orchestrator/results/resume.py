"""Finding an interrupted run again: its folder (a path, or an id under ./bench_results or
./train_results) and the config it ran with; for training, its last checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.config import LoadedConfig, load_saved
from orchestrator.errors import ConfigError
from orchestrator.results.run_folder import CONFIG_FILE, RunFolder

DEFAULT_RESULTS = Path("bench_results")
DEFAULT_TRAIN_RESULTS = Path("train_results")
CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def resume_config(run: str, project: str | None,
                  runtime: str | None) -> tuple[RunFolder, LoadedConfig]:
    """The run folder named by `run` and its own config, ready to finish the sweep."""
    path = _named(run, DEFAULT_RESULTS)
    if not (path / CONFIG_FILE).is_file() or not (path / "raw").is_dir():
        raise ConfigError(f"--resume {run}: no bench run there (a folder with config.yaml and"
                          " raw/); give a run folder such as bench_results/20261127-101500-ab12")
    loaded = load_saved(path / CONFIG_FILE, project, runtime)
    return RunFolder(path), loaded


def resume_train_config(run: str, project: str | None,
                        runtime: str | None) -> tuple[RunFolder, LoadedConfig, Path]:
    """The training run folder named by `run`, its own config, and its last whole checkpoint
    (the newest checkpoint-N/ home with its trainer_state.json, which the trainer writes last)."""
    path = _named(run, DEFAULT_TRAIN_RESULTS)
    if not (path / CONFIG_FILE).is_file():
        raise ConfigError(f"--resume {run}: no training run there (a folder with config.yaml);"
                          " give a run folder such as train_results/20261204-101500-ab12")
    whole = [c for c in checkpoints(path) if (c / "trainer_state.json").is_file()]
    if not whole:
        raise ConfigError(f"--resume {run}: no checkpoint there; a run writes them when"
                          " trainer.save_steps is set (e.g. --set trainer.save_steps=50)")
    loaded = load_saved(path / CONFIG_FILE, project, runtime)
    return RunFolder(path), loaded, whole[-1]


def checkpoints(folder: Path) -> list[Path]:
    """The checkpoint-N/ folders in a training run folder, oldest step first."""
    found = sorted((int(m.group(1)), child) for child in folder.iterdir()
                   if (m := CHECKPOINT.fullmatch(child.name)) and child.is_dir())
    return [child for _, child in found]


def _named(run: str, default: Path) -> Path:
    """`run` as a path, or as a run id under `default` when no such path exists."""
    path = Path(run)
    if not path.is_dir() and not path.is_absolute() and (default / run).is_dir():
        return default / run
    return path
