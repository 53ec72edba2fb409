"""Benchmarking a server the tool did not start, for real: a vLLM server started by hand with a
plain `docker run` of the CPU image, benchmarked through VLLM_SERVER_URL (client.server_url),
and the bad addresses refused in one line with nothing left behind."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from .conftest import TEST_ENV, leftovers, read_json

TINY = "examples/cpu-tiny.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docker_run(image: str, name: str, port: int, *argv: str) -> None:
    env = [f"--env={k}={v}" for k, v in TEST_ENV.items()]
    subprocess.run(["docker", "run", "-d", "--name", name, "--shm-size", "1g", "-p",
                    f"{port}:8000", *env, "--entrypoint", argv[0], image, *argv[1:]],
                   check=True, capture_output=True)


def _answers(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except OSError:
            time.sleep(2)
    return False


@pytest.fixture(scope="module")
def by_hand(cpu_image: str) -> Iterator[int]:
    """A vLLM server started outside the tool (as its own user would), on a host port."""
    name, port = f"orch-by-hand-{uuid.uuid4().hex[:6]}", _free_port()
    _docker_run(cpu_image, name, port, "vllm", "serve", "/models/tiny-qwen2",
                "--served-model-name", "tiny-qwen2", "--max-model-len", "512", "--dtype",
                "bfloat16", "--enforce-eager", "--kv-cache-memory-bytes", "64M", "--host",
                "0.0.0.0", "--port", "8000")
    try:
        assert _answers(f"http://127.0.0.1:{port}/v1/models", 300), subprocess.run(
            ["docker", "logs", "--tail", "40", name], capture_output=True, text=True).stderr
        yield port
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_a_server_started_by_hand_is_benchmarked_and_left_running(orch, project, by_hand) -> None:
    url = f"http://host.docker.internal:{by_hand}"
    # Prompts long enough for the prefix cache to answer a repeated one (the second run below).
    sets = ("--set", f"results_dir={orch.results}", "--set", "workload.output_len=16",
            "--set", "workload.input_len=400")
    result = orch("up", "bench", "-f", TINY, "-p", project, *sets, env={"VLLM_SERVER_URL": url})
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]
    assert f"{url} serves tiny-qwen2: max length 512" in result.stdout
    assert "server.max_model_len" in result.stdout  # set in the config, not applied
    (run,) = orch.runs()
    rows = read_json(run / "summary.json")
    assert [r["concurrency"] for r in rows] == [1, 4]
    assert all(r["output_throughput"] > 0 and r["failed"] == 0 for r in rows)
    # /metrics was scraped during each point (the server's own running-requests series).
    assert all(r["metrics_scrapes"] >= 2 and r["metrics_coverage"] == "full" for r in rows), rows
    # vLLM's counters were read (the names came from server.engine's module): a hit rate.
    assert all(r["prefix_cache_hit_rate"] is not None for r in rows), rows
    (variant,) = read_json(run / "variants.json")
    assert variant["server"] == "external" and variant["ready_s"] is None
    endpoint = variant["endpoint"]
    assert endpoint["url"] == url and endpoint["max_model_len"] == 512 and endpoint["metrics"]
    assert "server.enforce_eager" in endpoint["not_applied"]
    assert "server.model" not in endpoint["not_applied"]
    report = (run / "report.md").read_text()
    assert "## Server not started by this tool" in report
    assert f"the server at {url} (not started by this tool" in report
    assert "## Server starts" not in report and "## Cold start" not in report
    assert rows[0]["prefix_cache_reset"] is None  # its cache is not the tool's to empty
    # The tool removed only what it started: the server still answers.
    assert leftovers(project) == []
    assert _answers(f"http://127.0.0.1:{by_hand}/v1/models", 10)
    # The same config again: the server outlived the first run, so this run sends prompts of
    # its own (with the first run's seeds its prefix cache answered most of every prompt).
    again = orch("up", "bench", "-f", TINY, "-p", project, *sets, env={"VLLM_SERVER_URL": url})
    assert again.returncode == 0, again.stderr + again.stdout[-3000:]
    (second,) = [r for r in orch.runs() if r != run]
    rows_again = read_json(second / "summary.json")
    assert not {r["point_seed"] for r in rows} & {r["point_seed"] for r in rows_again}
    assert all(r["prefix_cache_hit_rate"] < 0.5 for r in rows_again), rows_again


def test_detached_it_leaves_the_client_alone_and_down_removes_only_that(orch, project,
                                                                       by_hand) -> None:
    url = f"http://host.docker.internal:{by_hand}"
    up = orch("up", "bench", "-f", TINY, "-p", project, "-d", "--set",
              f"results_dir={orch.results}", "--set", f"client.server_url={url}")
    assert up.returncode == 0, up.stderr + up.stdout[-3000:]
    (run,) = orch.runs()
    assert read_json(run / "summary.json") == []  # started, not measured
    assert leftovers(project) == [f"{project}-client", f"{project}-net"]
    down = orch("down", "-p", project)
    assert down.returncode == 0 and leftovers(project) == []
    assert _answers(f"http://127.0.0.1:{by_hand}/v1/models", 10)


def test_bad_addresses_are_refused_in_one_line_leaving_nothing(orch, project, by_hand,
                                                               cpu_image) -> None:
    not_openai, port = f"orch-not-openai-{uuid.uuid4().hex[:6]}", _free_port()
    _docker_run(cpu_image, not_openai, port, "python3", "-m", "http.server", "8000")
    try:
        assert _answers(f"http://127.0.0.1:{port}/", 60)
        nobody = _free_port()
        cases = {
            f"http://host.docker.internal:{nobody}": (
                [], "Connection refused; is the server up, and is this address reachable"),
            f"http://host.docker.internal:{by_hand}": (
                ["server.served_model_name=nope"],
                "server.served_model_name = nope is not served at"),
            f"http://host.docker.internal:{port}": (
                [], "answered HTTP 404: not an OpenAI-compatible server"),
        }
        for url, (sets, said) in cases.items():
            extra = [arg for s in sets for arg in ("--set", s)]
            result = orch("up", "bench", "-f", TINY, "-p", project, "--set",
                          f"results_dir={orch.results}", "--set", f"client.server_url={url}",
                          *extra)
            assert result.returncode == 1, result.stdout + result.stderr
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and said in errors[0], result.stderr
            assert "Traceback" not in result.stderr + result.stdout
            assert orch.runs() == [] and leftovers(project) == []
        # Loopback is the client's own container: refused before anything starts, with the fix.
        result = orch("up", "bench", "-f", TINY, "-p", project, "--set",
                      f"client.server_url=http://localhost:{by_hand}")
        assert result.returncode == 1
        assert f"use http://host.docker.internal:{by_hand}" in result.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", not_openai], capture_output=True)
