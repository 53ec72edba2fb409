"""Meeting a server the tool did not start: http_check.py --describe against live HTTP servers
of this process (well-behaved, locked, not OpenAI, hostile), and what the tool makes of the
description (stacks/endpoint.py). The real vLLM is in tests/engine/test_external_endpoint.py."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import REPO
from orchestrator.config import load_config
from orchestrator.errors import EndpointError
from orchestrator.stacks.endpoint import endpoint_of, not_applied

CHECK = REPO / "container_scripts" / "http_check.py"
Route = Callable[[BaseHTTPRequestHandler], tuple[int, bytes]]


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Route]], str]]:
    """Start an HTTP server answering the given paths; return its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Route]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path)
                status, body = route(self) if route else (404, b"not found")
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def _models(*entries: dict[str, object]) -> Route:
    return lambda _: (200, json.dumps({"object": "list", "data": list(entries)}).encode())


def _describe(url: str, env: dict[str, str] | None = None, *more: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, str(CHECK), url, "--describe", *more],
                          capture_output=True, text=True, timeout=60, env=env or {})
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_vllm_like_server_describes_itself(serve) -> None:
    url = serve({"/v1/models": _models({"id": "m", "root": "/w/m", "max_model_len": 4096}),
                 "/version": lambda _: (200, b'{"version": "0.22.1"}'),
                 "/metrics": lambda _: (200, b"# TYPE vllm:num_requests_running gauge\n")})
    assert _describe(url) == {"models": [{"id": "m", "root": "/w/m", "max_model_len": 4096}],
                              "version": "0.22.1", "metrics": True}


def test_an_sglang_server_says_its_version_where_sglang_does(serve) -> None:
    url = serve({"/v1/models": _models({"id": "m", "max_model_len": 2048}),
                 "/server_info": lambda _: (200, b'{"version": "0.5.16", "tp_size": 1}')})
    assert _describe(url, None, "--version", "/server_info")["version"] == "0.5.16"
    assert _describe(url)["version"] is None  # vLLM's /version is not SGLang's


def test_an_openai_server_without_vllm_extras(serve) -> None:
    url = serve({"/v1/models": _models({"id": "m"})})
    said = _describe(url)
    assert said["version"] is None and said["metrics"] is False
    assert said["models"] == [{"id": "m", "root": None, "max_model_len": None}]


def test_a_locked_server_asks_for_an_api_key_and_gets_it(serve) -> None:
    def locked(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        if request.headers.get("Authorization") != "Bearer k-123":
            return 401, b"{}"
        return _models({"id": "m"})(request)

    url = serve({"/v1/models": locked})
    refused = _describe(url)
    assert "HTTP 401: it wants an API key (client.env OPENAI_API_KEY" in str(refused["error"])
    assert refused["reachable"] is True
    assert _describe(url, {"OPENAI_API_KEY": "k-123"})["models"] == [
        {"id": "m", "root": None, "max_model_len": None}]


def test_not_openai_and_unreachable_are_said_in_a_line(serve) -> None:
    url = serve({"/v1/models": lambda _: (200, b"<html>hello</html>")})
    said = _describe(url)
    assert "did not answer an OpenAI model list (b'<html>hello</html>')" in str(said["error"])
    gone = serve({})
    assert "HTTP 404: not an OpenAI-compatible server" in str(_describe(gone)["error"])
    closed = _describe("http://127.0.0.1:9")
    assert closed["reachable"] is False and "Connection refused" in str(closed["error"])


def test_a_flood_is_read_only_up_to_its_bound(serve) -> None:
    # 8 MB of one model list: the check reads 1 MiB of it and says it is not a model list.
    url = serve({"/v1/models": lambda _: (200, b'{"data": [' + b'{"id": "m"},' * 700_000)})
    started = time.monotonic()
    said = _describe(url)
    assert "did not answer an OpenAI model list" in str(said["error"])
    assert time.monotonic() - started < 20


def _spec(*sets: str):
    return load_config(REPO / "examples" / "cpu-tiny.yaml",
                       sets=["client.server_url=http://host.docker.internal:8000", *sets],
                       environ={}).spec


def test_the_description_is_held_against_the_config() -> None:
    spec = _spec()
    said = {"models": [{"id": "tiny-qwen2", "max_model_len": 512}], "version": "0.32.0",
            "metrics": True}
    endpoint = endpoint_of("http://h:8000", said, spec)
    assert (endpoint.max_model_len, endpoint.version, endpoint.metrics) == (512, "0.32.0", True)
    # The config's own max length is not the server's: the server's is checked.
    with pytest.raises(EndpointError, match=r"= 96 exceeds the max length 90 of tiny-qwen2"):
        endpoint_of("http://h:8000", {"models": [{"id": "tiny-qwen2", "max_model_len": 90}]},
                    spec)
    # A hostile list: names cut, escape sequences kept for the CLI's plain() to show.
    evil = {"models": [{"id": "\x1b]0;owned\x07" + "x" * 500, "max_model_len": True}]}
    with pytest.raises(EndpointError) as refused:
        endpoint_of("http://h:8000", evil, spec)
    line = str(refused.value)
    assert line.startswith("server.served_model_name = tiny-qwen2 is not served at") and len(line) < 300
    # A boolean is no length: unknown, and nothing is refused for it.
    odd = {"models": [{"id": "tiny-qwen2", "max_model_len": True}], "version": 7}
    assert endpoint_of("http://h:8000", odd, spec).max_model_len is None
    assert endpoint_of("http://h:8000", odd, spec).version is None


def test_the_fields_not_applied_are_those_the_config_sets() -> None:
    ignored = not_applied(_spec("server.max_num_seqs=8"))
    assert "server.max_num_seqs" in ignored and "server.enforce_eager" in ignored
    assert not {"server.model", "server.served_model_name", "server.image"} & set(ignored)


def _check(url: str, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), url, *more], capture_output=True,
                          text=True, timeout=60, env={})


def test_the_one_readiness_poll_waits_for_health_and_names_the_model(serve) -> None:
    # /health answers 503 for the first 0.5 s, as a server that is still loading.
    started = time.monotonic()
    url = serve({"/health": lambda _: (200 if time.monotonic() - started > 0.5 else 503, b""),
                 "/v1/models": _models({"id": "m", "root": "/w/m", "max_model_len": 4096})})
    once = _check(url)
    assert once.returncode == 1 and f"GET {url}/health: 503" in once.stderr
    waited = _check(url, "--wait", "30", "--served", "")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.split() == ["m", "4096", "/w/m"]
    assert time.monotonic() - started < 10  # asked again every 0.2 s, not once a poll of seconds
    other = _check(url, "--served", "x")
    assert other.returncode == 1 and "does not serve 'x'; it serves ['m']" in other.stderr


def test_the_readiness_poll_gives_up_after_its_wait(serve) -> None:
    url = serve({"/health": lambda _: (503, b"")})
    began = time.monotonic()
    done = _check(url, "--wait", "1", "--served", "")
    assert done.returncode == 1
    assert f"server {url} is not healthy (GET {url}/health: 503) after 1s" in done.stderr
    assert 1 <= time.monotonic() - began < 10
