"""The local runtime's state file: which process of a project has which pid, so that `ps`,
`logs` and `down` work from another shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.errors import EngineError
from orchestrator.files import state_home, write_atomic

_STATE = "state.json"


def state_root() -> Path:
    """Where the local runtime keeps each project's state file, logs and scratch folders."""
    return state_home() / "local"


class StateFile:
    """One project's entries, one per role (and one per running exec), as JSON."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / _STATE

    def load(self) -> dict[str, Any]:
        """Every entry; {} when there is no state file."""
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            raise EngineError(f"the local state file {self.path} is unreadable; remove it by hand"
                              " once you have stopped its processes") from None
        return data

    def record(self, key: str, entry: dict[str, Any]) -> None:
        """Add or replace one entry."""
        state = self.load()
        state[key] = entry
        write_atomic(self.path, json.dumps(state, indent=2))

    def forget(self, key: str) -> None:
        """Remove one entry."""
        state = self.load()
        if state.pop(key, None) is not None:
            write_atomic(self.path, json.dumps(state, indent=2))
