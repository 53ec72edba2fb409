"""One folder per run, written file by file and atomically, so a crash keeps what finished."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.files import write_atomic


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
