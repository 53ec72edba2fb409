"""Finding an interrupted run again: its folder (a path, or an id under ./bench_results) and
the config it ran with."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config import LoadedConfig, load_saved
from orchestrator.errors import ConfigError
from orchestrator.results.run_folder import RunFolder

DEFAULT_RESULTS = Path("bench_results")


def resume_config(run: str, project: str | None,
                  runtime: str | None) -> tuple[RunFolder, LoadedConfig]:
    """The run folder named by `run` and its own config, ready to finish the sweep."""
    path = Path(run)
    if not path.is_dir() and not path.is_absolute() and (DEFAULT_RESULTS / run).is_dir():
        path = DEFAULT_RESULTS / run
    if not (path / "config.yaml").is_file() or not (path / "raw").is_dir():
        raise ConfigError(f"--resume {run}: no bench run there (a folder with config.yaml and"
                          " raw/); give a run folder such as bench_results/20261127-101500-ab12")
    loaded = load_saved(path / "config.yaml", project, runtime)
    return RunFolder(path), loaded
