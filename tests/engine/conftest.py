"""Real-engine fixtures: a Docker engine, the CPU test image, and a CLI run as a real process.

These tests start real containers with vLLM's CPU build. In CI they must run: a missing engine
or image fails the run instead of skipping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO

TEST_ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def cpu_image() -> str:
    """Start an engine if needed and build (or reuse) the CPU test image; returns its tag."""
    engine = subprocess.run([str(REPO / "host_scripts" / "docker_engine.sh")],
                            capture_output=True, text=True)
    _need(engine.returncode == 0, f"no Docker engine: {engine.stderr.strip()}")
    build = subprocess.run([str(REPO / "host_scripts" / "build_images.sh"), "cpu"],
                           capture_output=True, text=True)
    _need(build.returncode == 0, f"building the CPU image failed: {build.stderr.strip()}")
    return build.stdout.split()[-1]


CLUSTER = REPO / "host_scripts" / "k8s_cluster.py"
PREPARE_WAIT_S = 3600  # for run_tests.sh's background preparation (about 30 min cold, 2 busy cores)


@pytest.fixture(scope="session")
def quiet_machine() -> None:
    """For tests that hold a server to a latency SLO or compare the timings of two runs: wait
    until run_tests.sh's background preparation of the cluster (a Go build, starting it,
    importing a 6 GB image) has ended, so it does not starve a 2-core machine's server of CPU
    (a CI run saw a c1 point's first token take 2 s while the image was imported)."""
    prepared = os.environ.get("ORCHESTRATOR_K8S_PREPARED")
    if not prepared:
        return
    deadline = time.monotonic() + PREPARE_WAIT_S
    while not Path(prepared).exists() and time.monotonic() < deadline:
        time.sleep(5)


@pytest.fixture(scope="session")
def real_cluster(cpu_image: str) -> str:
    """The kubeconfig of the REAL two-node cluster (host_scripts/k8s_cluster.py), started
    and holding the CPU image. run_tests.sh names it in ORCHESTRATOR_REAL_K8S and prepares it in
    the background (ORCHESTRATOR_K8S_PREPARED: a file that appears with the binaries' folder once
    built, started and the image imported); this waits for that, then makes sure the cluster is
    up and holds the image (both quick when done already)."""
    kubeconfig = os.environ.get("ORCHESTRATOR_REAL_K8S", "")
    _need(kubeconfig not in ("", "none"), "no real Kubernetes cluster: ORCHESTRATOR_REAL_K8S names"
                                          " none (host_scripts/run_tests.sh starts one where Go is"
                                          " installed)")
    prepared = os.environ.get("ORCHESTRATOR_K8S_PREPARED")
    if prepared:
        deadline = time.monotonic() + PREPARE_WAIT_S
        while not Path(prepared).exists() and time.monotonic() < deadline:
            time.sleep(5)
        said = Path(prepared).read_text().strip() if Path(prepared).exists() else "not in time"
        _need(Path(said).is_dir(), f"preparing the cluster failed: {said}")
        up = subprocess.run([sys.executable, str(CLUSTER), "up", "--bin", said],
                            capture_output=True, text=True)
        _need(up.returncode == 0, f"starting the cluster failed: {up.stderr.strip()[-2000:]}")
    # The build's own tag, and the :local one the examples name.
    local = cpu_image.rsplit(":", 1)[0] + ":local"
    imported = subprocess.run([sys.executable, str(CLUSTER), "import", cpu_image, local],
                              capture_output=True, text=True)
    _need(imported.returncode == 0, f"importing {cpu_image} failed: {imported.stderr.strip()}")
    return kubeconfig


class Orchestrator:
    """Runs `python -m orchestrator` as a separate process, as a user would."""

    def __init__(self, results: Path) -> None:
        self.results = results

    def env(self) -> dict[str, str]:
        return {**os.environ, **TEST_ENV, "PYTHONUNBUFFERED": "1"}

    def __call__(self, *args: str, timeout: float = 600,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True,
                              text=True, cwd=REPO, env={**self.env(), **(env or {})}, timeout=timeout)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "orchestrator", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=REPO, env={**self.env(), **(env or {})})

    def interrupt_after_first_point(self, proc: subprocess.Popen[str], wait_s: float) -> str:
        """Wait (up to wait_s) until the run's first point is home, then press Ctrl-C (SIGINT);
        return the process's stderr once it has ended."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and proc.poll() is None:
            runs = self.runs()
            if runs and list((runs[0] / "raw").glob("v0/*.json")):
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=180)[1]

    def runs(self) -> list[Path]:
        return sorted(p for p in self.results.iterdir() if p.is_dir()) if self.results.exists() else []


@pytest.fixture
def orch(tmp_path: Path) -> Orchestrator:
    """The CLI, writing results under this test's temporary folder."""
    return Orchestrator(tmp_path / "results")


def leftovers(project: str) -> list[str]:
    """Containers and networks that still carry the project's label."""
    label = f"label=orchestrator.project={project}"
    names = []
    for kind in (["ps", "-a"], ["network", "ls"]):
        out = subprocess.run(["docker", *kind, "--filter", label, "--format", "{{.Names}}"
                              if kind[0] == "ps" else "{{.Name}}"],
                             capture_output=True, text=True, check=True).stdout
        names += out.split()
    return names


@pytest.fixture
def project(request: pytest.FixtureRequest, cpu_image: str) -> Iterator[str]:
    """A project name of this test's own; whatever a failed test left is removed after it."""
    name = "t-" + request.node.name.removeprefix("test_").replace("_", "-")[:30].strip("-")
    yield name
    if leftovers(name):
        subprocess.run([sys.executable, "-m", "orchestrator", "down", "-p", name], cwd=REPO,
                       capture_output=True)


def read_json(path: Path) -> object:
    """Parse a JSON file."""
    return json.loads(path.read_text())
