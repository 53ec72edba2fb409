"""What the FAKE cluster's client pod does when orchestrator execs into it.

It stands in for the client container: `http_check.py` answers from the fake server pod's
readiness, `bench_points.py` writes a real `vllm bench serve` result (recorded from a real run,
with this point's concurrency and run id) into the pod's files, and `tar` archives them.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .server import FakeKubernetes, FakePod

SCRIPTS = "/opt/orchestrator/scripts"
RESULT = json.loads((Path(__file__).parent / "vllm_bench_result.json").read_text())


class ClientPod:
    """An exec handler; `hold_at` makes bench_points.py block at that concurrency."""

    def __init__(self, cluster: FakeKubernetes, hold_at: int | None = None) -> None:
        self.cluster = cluster
        self.hold_at = hold_at
        self.release = threading.Event()

    def __call__(self, pod: FakePod, argv: list[str]) -> Any:
        if argv[:2] == ["python3", f"{SCRIPTS}/http_check.py"]:
            if "--version" in argv:
                return b"0.32.0-fake\n", 0
            if self.cluster.ready("server"):
                return b"", 0
            return f"GET {argv[2]}/health: ConnectionRefusedError\n".encode(), 1
        if argv[:2] == ["python3", f"{SCRIPTS}/bench_points.py"]:
            return self._bench_points(pod, argv)
        if argv[:4] == ["tar", "cf", "-", "-C"]:
            return self._tar(pod, argv[4])
        return f"{argv[0]}: command not found\n".encode(), 127

    def _bench_points(self, pod: FakePod, argv: list[str]) -> Iterator[bytes]:
        """bench_points.py --point C NAME W ...: each point's result written, then its `=== done`
        line, as the real script prints them."""
        folder = argv[argv.index("--result-dir") + 1]
        run = next(a.split("=", 1)[1] for a in argv if a.startswith("orchestrator_run="))
        points = [(int(argv[i + 1]), argv[i + 2]) for i, a in enumerate(argv) if a == "--point"]
        yield f"bench_points.py: vLLM's benchmark loaded in 0.0s; {len(points)} point(s)\n".encode()
        for concurrency, name in points:
            if concurrency == self.hold_at:
                self.release.wait(60)
            result = {**RESULT, "max_concurrency": concurrency, "concurrency": str(concurrency),
                      "orchestrator_run": run}
            yield f"=== concurrency {concurrency} -> {folder}/{name}\n".encode()
            pod.files[f"{folder}/{name}"] = json.dumps(result).encode()
            yield f"=== done concurrency {concurrency} -> {folder}/{name}\n".encode()
        return 0

    def _tar(self, pod: FakePod, folder: str) -> tuple[bytes, int]:
        files = {p: d for p, d in pod.files.items() if p.startswith(folder + "/")}
        if not files:  # real tar says why on stderr; stdout stays empty
            return b"", 2
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path, data in sorted(files.items()):
                info = tarfile.TarInfo("./" + path[len(folder) + 1:])
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue(), 0
