"""Shared fixtures: a CLI runner, the repository's paths, and a clean environment."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.config.source import ENV_OVERRIDES

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

# A shell that starts a command in the background (`.ci/run &`, nohup) starts it with Ctrl-C
# ignored, every process it starts inherits that, and Python then installs no KeyboardInterrupt
# handler: the tests that press Ctrl-C on `orchestrator` (sigint, `logs -f`) saw it run on (a
# run of .ci/run from a background shell failed all four). The processes the tests start get
# Ctrl-C's usual meaning back: a handler is not inherited, an ignored signal is.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the real Kubernetes cluster run last: run_tests.sh builds it in the background
    while the others run. Just before them run the tests that hold a server to a latency SLO or
    compare two runs' timings (`quiet_machine`): they wait for that background work to end."""
    def order(item: pytest.Item) -> int:
        names = getattr(item, "fixturenames", ())
        return 2 if "real_cluster" in names else 1 if "quiet_machine" in names else 0

    items.sort(key=order)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No seed override variable leaks in from the developer's shell; HOME is fixed."""
    for name in ENV_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/home/tester")
    monkeypatch.chdir(REPO)


class Cli:
    """Runs `orchestrator ...` in-process and keeps stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None):
        return self.runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def cli() -> Iterator[Cli]:
    """A CLI runner."""
    yield Cli()


def running_in_ci() -> bool:
    """Whether this is a CI run, where tools the tests need must be present (no skips)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def in_ci() -> bool:
    """running_in_ci(), for tests that take it as a fixture."""
    return running_in_ci()
