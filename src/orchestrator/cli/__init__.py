"""The `orchestrator` command line (typer + rich): the app and its groups in app.py, the
commands in run.py (validate, render, up), manage.py (ps, logs, down), results.py (report,
compare)
and tools.py (config, analyze)."""

from __future__ import annotations

from orchestrator.cli import manage, results, run, tools  # noqa: F401 - importing registers the commands
from orchestrator.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app(prog_name="orchestrator")


if __name__ == "__main__":  # pragma: no cover
    main()
