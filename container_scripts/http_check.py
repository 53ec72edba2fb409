#!/usr/bin/env python3
"""Check a vLLM server from inside a container or pod; exit 0 when it is ready.

    http_check.py URL                  GET URL/health answers 200
    http_check.py URL --model NAME     ... and URL/v1/models lists NAME
    http_check.py URL --version        print the server's vLLM version
Says what it is still waiting for on stderr, and exits 1, when not ready.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request


def get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--model")
    parser.add_argument("--version", action="store_true")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    try:
        if args.version:
            print(json.loads(get(f"{base}/version")[1])["version"])
            return 0
        status, _ = get(f"{base}/health")
        if status != 200:
            print(f"GET {base}/health: {status}", file=sys.stderr)
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
