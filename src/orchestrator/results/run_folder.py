"""One folder per run, written file by file and atomically, so a crash keeps what finished;
and the one reader of a finished bench run's files (summary rows, variants, raw requests) for
report, compare and the estimate."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.analysis.compare import Samples
from orchestrator.analysis.steady import Request, requests_of
from orchestrator.errors import ConfigError
from orchestrator.files import write_atomic

SUMMARY_FILE = "summary.json"  # a bench run's points, one row each
SUMMARY_CSV = "summary.csv"  # the same rows for a spreadsheet
VARIANTS_FILE = "variants.json"  # its server variants: how each started, its fit, its search
CONFIG_FILE = "config.yaml"  # the config it ran, secrets by reference only
EXAMPLE = "bench_results/20261127-101500-ab12"


def new_run_id() -> str:
    """A sortable, unique run id such as 20261124-001500-3fa2."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass(frozen=True)
class RunFolder:
    """`<results_dir>/<run-id>/` and the files in it."""

    path: Path

    @classmethod
    def create(cls, results_dir: Path, run_id: str, with_raw: bool = True) -> RunFolder:
        """Make the folder (and raw/, for a benchmark's point files) for a new run."""
        path = results_dir / run_id
        path.mkdir(parents=True, exist_ok=False)
        if with_raw:
            (path / "raw").mkdir()
        return cls(path)

    @property
    def raw(self) -> Path:
        """Where each sweep point's vLLM JSON is kept, untouched."""
        return self.path / "raw"

    def write_text(self, name: str, text: str) -> Path:
        """Write a file of the run atomically."""
        target = self.path / name
        write_atomic(target, text)
        return target

    def write_json(self, name: str, data: Any) -> Path:
        """Write JSON atomically."""
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=False) + "\n")

    def write_yaml(self, name: str, data: Any) -> Path:
        """Write YAML atomically."""
        return self.write_text(name, yaml.safe_dump(data, sort_keys=False))

    def append_text(self, name: str, text: str) -> None:
        """Append to a log file of the run (logs are streamed, not rewritten)."""
        with (self.path / name).open("a", encoding="utf-8") as handle:
            handle.write(text)


def read_rows(run: Path) -> list[dict[str, Any]]:
    """A bench run's summary rows; ConfigError when it has none."""
    rows = _read_json(run, SUMMARY_FILE)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"{run}/{SUMMARY_FILE} is not a list of points")
    return rows


def read_variants(run: Path) -> list[dict[str, Any]]:
    """A bench run's server variants; ConfigError when it has none."""
    variants = _read_json(run, VARIANTS_FILE)
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise ConfigError(f"{run}/{VARIANTS_FILE} is not a list of variants")
    return variants


def read_run(run: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary rows, variants) of a run folder; ConfigError when it is not a bench run."""
    return read_rows(run), read_variants(run)


def read_config(run: Path) -> dict[str, Any]:
    """The config a run ran ({} when unreadable: a run that crashed early, or not ours)."""
    try:
        config = yaml.safe_load((run / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, dict) else {}


def raw_requests(run: Path) -> Samples:
    """A reader of a row's per-request times from `run`'s raw files (None where absent)."""
    def read(row: dict[str, Any]) -> list[Request] | None:
        file = row.get("file")
        if not isinstance(file, str) or ".." in Path(file).parts:
            return None
        try:
            data = json.loads((run / file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return requests_of(data) if isinstance(data, dict) else None
    return read


def _read_json(run: Path, name: str) -> Any:
    try:
        return json.loads((run / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{run}: no readable {name}; give a bench run folder such as"
                          f" {EXAMPLE}") from None
