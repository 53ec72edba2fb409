"""The kinds of failure the CLI reports.

Every error the user can cause or meet is one of these; the CLI catches them once, prints
their lines and exits with `exit_code`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base of every reported failure; `lines` are printed one per line."""

    exit_code = 1

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = lines


class ConfigError(OrchestratorError):
    """The configuration cannot be read or is invalid; nothing was started."""


class RenderError(OrchestratorError):
    """Rendering or writing rendered files failed; nothing was written."""


class NotImplementedYet(OrchestratorError):
    """The requested runtime or stack does not exist yet (exit 2, never a fake success)."""

    exit_code = 2
