#!/usr/bin/env python3
"""Check a vLLM server from inside a container or pod; exit 0 when it is ready.

    http_check.py URL                  GET URL/health answers 200
    http_check.py URL --model NAME     ... and URL/v1/models lists NAME
    http_check.py URL --health PATH    ... GET URL/PATH instead of URL/health
    http_check.py URL --wait SECONDS   ... asked every 0.2 s until so, for up to SECONDS
    http_check.py URL --served [NAME]  ... then print NAME's (or the first model's) id, max
                                       model length (0: not said) and root, space-separated
    http_check.py URL --version [PATH] print the version the server reports at PATH (/version)
    http_check.py URL --describe [--version PATH]
                                       print what the server says of itself, as one JSON line
Says what it is still waiting for on stderr, and exits 1, when not ready.

--describe is how orchestrator meets a server it did not start (client.server_url), from where
the benchmark runs: {"models": [{"id", "root", "max_model_len"}], "version", "metrics"} or
{"error": ONE LINE}. It sends OPENAI_API_KEY as a bearer token when set, as vLLM's benchmark does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

MAX_BODY = 1 << 20  # what a description reads of one answer: a hostile server cannot flood it


def get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET."""
    key = os.environ.get("OPENAI_API_KEY")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read(MAX_BODY)


def models(base: str) -> list[dict[str, Any]]:
    """The model list of GET base/v1/models (OSError, ValueError or KeyError when it is not one)."""
    listed: list[dict[str, Any]] = json.loads(get(f"{base}/v1/models")[1])["data"]
    return listed


def not_ready(base: str, health: str = "/health", model: str | None = None) -> str | None:
    """None when GET base+health answers 200 (and /v1/models lists `model`, when given);
    else what is still missing, in one line."""
    try:
        status, _ = get(f"{base}{health}")
    except urllib.error.HTTPError as exc:  # up, not ready: 503 while loading
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"GET {base}{health}: {reason(exc)}"
    if status != 200:
        return f"GET {base}{health}: {status}"
    try:
        if model:
            ids = [m["id"] for m in models(base)]
            if model not in ids:
                return f"model {model!r} not in {ids}"
    except (OSError, ValueError, KeyError) as exc:
        return f"GET {base}: {type(exc).__name__}: {exc}"
    return None


def wait_ready(base: str, seconds: float, health: str = "/health",
               model: str | None = None) -> str | None:
    """The one readiness poll inside the containers (bench_points.py and run_benchmark.sh use
    it): not_ready() every 0.2 s, so a point starts within a fifth of a second of readiness,
    until it is None or `seconds` have passed (then its last answer)."""
    deadline = time.monotonic() + seconds
    while (problem := not_ready(base, health, model)) is not None and \
            time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    return problem


def served(base: str, wanted: str | None) -> tuple[str, int, str] | str:
    """(id, max_model_len or 0, root) of model `wanted` (or the first listed), or why not."""
    listed = models(base)
    chosen = next((m for m in listed if m["id"] == wanted), None) if wanted else listed[0]
    if chosen is None:
        return f"server {base} does not serve {wanted!r}; it serves {[m['id'] for m in listed]}"
    return str(chosen["id"]), int(chosen.get("max_model_len") or 0), str(chosen.get("root") or chosen["id"])


def describe(base: str, version_path: str = "/version") -> dict[str, object]:
    """What an OpenAI-compatible server says of itself, or {"error": ...} naming what failed."""
    try:
        _, body = get(f"{base}/v1/models")
    except urllib.error.HTTPError as exc:
        hint = (": it wants an API key (client.env OPENAI_API_KEY: {from_env: NAME})"
                if exc.code in (401, 403) else
                ": not an OpenAI-compatible server, or not its root address")
        return {"error": f"GET {base}/v1/models answered HTTP {exc.code}{hint}",
                "reachable": True}
    except (OSError, ValueError) as exc:
        return {"error": f"GET {base}/v1/models: {reason(exc)}", "reachable": False}
    try:
        listed = json.loads(body)["data"]
        models = [{"id": str(m["id"]), "root": m.get("root"),
                   "max_model_len": m.get("max_model_len")} for m in listed]
    except (ValueError, KeyError, TypeError):
        return {"error": f"GET {base}/v1/models did not answer an OpenAI model list"
                         f" ({body[:60]!r})", "reachable": True}
    description: dict[str, object] = {"models": models, "version": None, "metrics": False}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # not vLLM: unknown
        description["version"] = str(json.loads(get(f"{base}{version_path}")[1])["version"])
    with contextlib.suppress(OSError, ValueError):
        description["metrics"] = b"# TYPE" in get(f"{base}/metrics")[1]
    return description


def reason(exc: BaseException) -> str:
    """The cause of a failed request in a few words."""
    cause = getattr(exc, "reason", None) or exc
    return f"{type(cause).__name__}: {cause}"


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--model")
    parser.add_argument("--health", default="/health")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--served", nargs="?", const="", metavar="NAME")
    parser.add_argument("--version", nargs="?", const="/version")
    parser.add_argument("--describe", action="store_true")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    if args.describe:
        print(json.dumps(describe(base, args.version or "/version")))
        return 0
    if args.version:
        try:
            print(json.loads(get(f"{base}{args.version}")[1])["version"])
        except (OSError, ValueError, KeyError) as exc:
            print(f"GET {base}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        return 0
    problem = wait_ready(base, args.wait, args.health, args.model)
    if problem is not None:
        if args.served is not None:  # run_benchmark.sh's user reads this, not the orchestrator
            wait = (f" after {args.wait:g}s" if args.wait else
                    "; is it running? (--wait SECONDS to wait)")
            problem = f"server {base} is not healthy ({problem}){wait}"
        print(problem, file=sys.stderr)
        return 1
    if args.served is not None:
        try:
            said = served(base, args.served or None)
        except (OSError, ValueError, KeyError, IndexError) as exc:
            said = f"GET {base}/v1/models: {type(exc).__name__}: {exc}"
        if isinstance(said, str):
            print(said, file=sys.stderr)
            return 1
        print(*said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
