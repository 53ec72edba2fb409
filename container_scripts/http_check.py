#!/usr/bin/env python3
"""Check a vLLM server from inside a container or pod; exit 0 when it is ready.

    http_check.py URL                  GET URL/health answers 200
    http_check.py URL --model NAME     ... and URL/v1/models lists NAME
    http_check.py URL --health PATH    ... GET URL/PATH instead of URL/health
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
import urllib.error
import urllib.request

MAX_BODY = 1 << 20  # what a description reads of one answer: a hostile server cannot flood it


def get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET."""
    key = os.environ.get("OPENAI_API_KEY")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read(MAX_BODY)


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
    parser.add_argument("--version", nargs="?", const="/version")
    parser.add_argument("--describe", action="store_true")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    if args.describe:
        print(json.dumps(describe(base, args.version or "/version")))
        return 0
    try:
        if args.version:
            print(json.loads(get(f"{base}{args.version}")[1])["version"])
            return 0
        status, _ = get(f"{base}{args.health}")
        if status != 200:
            print(f"GET {base}{args.health}: {status}", file=sys.stderr)
            return 1
        if args.model:
            served = [m["id"] for m in json.loads(get(f"{base}/v1/models")[1])["data"]]
            if args.model not in served:
                print(f"model {args.model!r} not in {served}", file=sys.stderr)
                return 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"GET {base}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
