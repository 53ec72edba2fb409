"""`up bench --runtime kubernetes` and the README's kubectl path on a REAL single-node cluster
(host_scripts/k8s_build.sh + k8s_cluster.py: Kubernetes 1.34 built from Go modules, Debian's
containerd, the CPU image imported).

Not in CI yet (the cold Go build does not fit its budget until the issue that adds the cluster is
finished): these run when ORCHESTRATOR_REAL_K8S names the cluster's kubeconfig, e.g.
    export ORCHESTRATOR_REAL_K8S=/var/lib/orchestrator-k8s/admin.kubeconfig
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

KUBECONFIG = os.environ.get("ORCHESTRATOR_REAL_K8S", "")
TINY = "examples/cpu-tiny.yaml"

pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="no real cluster (ORCHESTRATOR_REAL_K8S)")


def _kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl") or str(Path(sys.executable).with_name("kubectl"))
    return subprocess.run([kubectl, f"--kubeconfig={KUBECONFIG}", *args], capture_output=True,
                          text=True, timeout=300)


def _ours(project: str) -> str:
    return _kubectl("get", "all,configmap", "-l", f"orchestrator.project={project}", "-o",
                    "name").stdout.strip()


def test_up_bench_on_a_real_cluster(orch, cpu_image) -> None:
    result = orch("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", "real-tiny",
                  "--set", f"results_dir={orch.results}", env={"KUBECONFIG": KUBECONFIG})
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = orch.runs()
    summary = json.loads((run / "summary.json").read_text())
    assert [row["concurrency"] for row in summary] == [1, 4]
    for row in summary:
        data = json.loads((run / row["file"]).read_text())
        assert data["completed"] == 20 and data["failed"] == 0
        assert row["output_throughput"] == data["output_throughput"]
    assert json.loads((run / "environment.json").read_text())["engine"].startswith("v1.34")
    assert _ours("real-tiny") == ""


def test_the_readme_kubectl_path_on_a_real_cluster(tmp_path, cpu_image) -> None:
    out = tmp_path / "out"
    render = subprocess.run([sys.executable, "-m", "orchestrator", "render", "bench", "-f", TINY,
                             "--runtime", "kubernetes", "-o", str(out)], cwd=REPO,
                            capture_output=True, text=True)
    assert render.returncode == 0, render.stderr
    try:
        assert _kubectl("apply", "-f", str(out)).returncode == 0
        ready = _kubectl("wait", "--for=condition=Available", "deployment/cpu-tiny-server",
                         "--timeout=240s")
        assert ready.returncode == 0, ready.stderr
        assert _kubectl("wait", "--for=condition=Ready", "pod/cpu-tiny-client",
                        "--timeout=120s").returncode == 0
        bench = _kubectl("exec", "cpu-tiny-client", "-c", "client", "--", "bash",
                         "/opt/orchestrator/scripts/run_benchmark.sh", "--single", "1",
                         "--num-prompts", "5", "--results-dir", "/root/by-hand")
        assert bench.returncode == 0, bench.stderr[-2000:]
        assert "=== done concurrency 1" in bench.stdout
        copied = _kubectl("cp", "-c", "client", "cpu-tiny-client:/root/by-hand",
                          str(tmp_path / "by-hand"))
        assert copied.returncode == 0, copied.stderr
        (result,) = (tmp_path / "by-hand").glob("results_1_*.json")
        assert json.loads(result.read_text())["completed"] == 5
    finally:
        _kubectl("delete", "-f", str(out), "--wait=true")
    assert _ours("cpu-tiny") == ""
