"""Print rendered objects, or write them to a folder without ever leaving it half-written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orchestrator import __version__
from orchestrator.errors import RenderError
from orchestrator.files import write_atomic

HEADER = "# Rendered by orchestrator"


def to_yaml(objects: list[Any]) -> str:
    """Objects as a YAML stream, one document each."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, width=100)


def header(source: str) -> str:
    """The first line of every written file: what made it and from where."""
    return f"{HEADER} {__version__} from {source}; edit the config, not this file.\n"


def write_files(out_dir: Path, files: dict[str, str]) -> list[Path]:
    """Write `files` ({name: text}) into `out_dir`, each atomically.

    Files that an earlier render wrote (they start with HEADER) and that this render does not
    produce are removed, so `kubectl apply -f DIR` never applies a stale object.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stale = [
            path
            for path in out_dir.iterdir()
            if path.is_file() and path.name not in files and _written_by_us(path)
        ]
        written = []
        for name, text in files.items():
            write_atomic(out_dir / name, text)
            written.append(out_dir / name)
        for path in stale:
            path.unlink()
    except OSError as exc:
        raise RenderError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    return written


def _written_by_us(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(HEADER)
    except (OSError, UnicodeDecodeError):
        return False
