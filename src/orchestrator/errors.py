"""The kinds of failure the CLI reports.

Every error the user can cause or meet is one of these; the CLI catches them once, prints
their lines (and any details, such as a server's last log lines) and exits with `exit_code`.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base of every reported failure; `lines` are printed one per line, `details` below them."""

    exit_code = 1

    def __init__(self, *lines: str, details: str = "") -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = lines
        self.details = details


class ConfigError(OrchestratorError):
    """The configuration cannot be read or is invalid; nothing was started."""


class RenderError(OrchestratorError):
    """Rendering or writing rendered files failed; nothing was written."""


class NotImplementedYet(OrchestratorError):
    """The requested runtime does not exist (exit 2, never a fake success)."""

    exit_code = 2


class EngineError(OrchestratorError):
    """The container engine or cluster cannot be reached, or refused a request."""


class PreflightError(OrchestratorError):
    """Something the stack needs is missing or taken (an image, a port); nothing was started."""


class FitError(OrchestratorError):
    """The model cannot fit the GPUs there are (too few, too small); nothing was started."""


class StartupError(OrchestratorError):
    """A component failed to start or to become ready; everything started was removed."""


class EndpointError(OrchestratorError):
    """A server the tool did not start (client.server_url) cannot be benchmarked: unreachable,
    not OpenAI-compatible, or not serving the model; no point ran."""


class BenchmarkError(OrchestratorError):
    """The benchmark itself failed; finished points were kept."""


class ServerLostError(OrchestratorError):
    """The server being measured lost a pod (container, process) or restarted while a point ran;
    the points before were kept, that one flagged server-lost."""


class TrainingError(OrchestratorError):
    """The trainer failed; what it wrote (metrics, timing log) was kept."""


class Regression(OrchestratorError):
    """`compare` found a point that got worse beyond the allowed threshold."""


class NothingToCompare(OrchestratorError):
    """`compare` was given runs that share no point (exit 2: not a pass, not a regression)."""

    exit_code = 2


class Interrupted(OrchestratorError):
    """Ctrl-C or SIGTERM: everything started was removed, finished results were kept."""

    exit_code = 130


class DeadlineError(OrchestratorError):
    """A wait passed its deadline; what was awaited was left as it was."""
