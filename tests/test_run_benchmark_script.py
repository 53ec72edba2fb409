"""run_benchmark.sh's own checks, which run before it talks to any server.

Its sweep against a real vLLM server is tested with the Docker runtime.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from orchestrator.resources import data_dir

SCRIPT = data_dir("container_scripts") / "run_benchmark.sh"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "--single N" in result.stdout and "VLLM_SERVER_URL" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown flag --bogus"),
        (["--single", "0"], "--single must be a whole number of 1 or more, not '0'"),
        (["--num-prompts", "x"], "--num-prompts must be a whole number of 1 or more, not 'x'"),
        (["--min-concurrency", "8", "--max-concurrency", "2"], "--min-concurrency 8 is above --max-concurrency 2"),
        (["--step", "x1"], "--step x1: the factor must be 2 or more"),
        (["--step", "two"], "--step must be N (add N) or xN (multiply by N), not 'two'"),
    ],
)
def test_bad_flags_are_refused_before_any_request(args, message) -> None:
    result = _run(*args)
    assert result.returncode == 1
    assert message in result.stderr


def test_unreachable_server_is_reported_and_nothing_is_run() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = _run("--single", "1", env={"VLLM_SERVER_URL": url})
    assert result.returncode == 1
    assert f"server {url} is not healthy" in result.stderr
    assert "=== concurrency" not in result.stdout
