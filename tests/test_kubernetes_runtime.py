"""The Kubernetes runtime, driven through `orchestrator up bench` against a FAKE API server.

No cluster runs on these machines: tests/fake_kubernetes/ speaks the Kubernetes REST protocol
(server-side apply, label selectors, logs, exec over websockets) with simulated pods. What only
a real cluster proves is listed in that module's docstring.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from fake_kubernetes.client_pod import ClientPod
from fake_kubernetes.server import FakeKubernetes, PodScript, healthy_server, pending_unschedulable, running, waiting

TINY = "examples/cpu-tiny.yaml"
ON_FAKE = ["--runtime", "kubernetes", "--set", "runtime.kubernetes.namespace=bench",
           "--set", "runtime.kubernetes.create_namespace=true"]


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Start a fake cluster with a healthy server; tests may swap its scripts before `up`."""
    fake = FakeKubernetes(server_script=healthy_server)
    fake.exec_handler = ClientPod(fake)
    fake.start()
    monkeypatch.setenv("KUBECONFIG", fake.kubeconfig(str(tmp_path / "kubeconfig")))
    yield fake
    fake.stop()


def _up(cli, tmp_path, *extra: str):
    return cli("up", "bench", "-f", TINY, *ON_FAKE, "--set", f"results_dir={tmp_path / 'results'}",
               *extra)


def _ours(cluster: FakeKubernetes) -> list[str]:
    return [f"{kind} {o['metadata']['name']}" for kind in
            ("Pod", "Deployment", "Service", "ConfigMap", "LeaderWorkerSet", "Namespace")
            for o in cluster.find(kind)
            if (o["metadata"].get("labels") or {}).get("orchestrator.project") == "cpu-tiny"]


def test_up_bench_end_to_end_on_the_fake_cluster(cli, cluster, tmp_path) -> None:
    cluster.server_script = lambda: healthy_server(step=1.5)  # phases that last, as real ones do
    result = _up(cli, tmp_path)
    assert result.exit_code == 0, result.stderr

    # The server's phases were shown as they moved.
    shown = [line.strip() for line in result.stdout.splitlines() if line.startswith("  server:")]
    states = [line.split(": ", 2)[-1] for line in shown]
    assert states[:3] == ["Pending", "ContainerCreating", "Running, not ready yet"], shown
    assert "server ready in" in result.stdout

    (run,) = list((tmp_path / "results").iterdir())
    raw = sorted(str(p.relative_to(run / "raw")) for p in (run / "raw").rglob("*.json"))
    assert raw == ["v0/w0-c1-r0.json", "v0/w0-c4-r0.json"]
    summary = json.loads((run / "summary.json").read_text())
    assert [row["concurrency"] for row in summary] == [1, 4]
    assert all(row["completed"] == 20 and row["failed"] == 0 for row in summary)
    environment = json.loads((run / "environment.json").read_text())
    assert environment["runtime"] == "kubernetes" and environment["vllm"] == "0.32.0-fake"
    assert environment["engine"] == "v1.32.0-fake"
    assert "Application startup complete" in (run / "server.log").read_text()

    # Objects were applied server-side, and everything was removed afterwards.
    assert ("PATCH", "/apis/apps/v1/namespaces/bench/deployments/cpu-tiny-server") in cluster.requests
    assert _ours(cluster) == []


def test_up_twice_updates_in_place_and_down_waits_until_gone(cli, cluster, tmp_path) -> None:
    for _ in range(2):
        result = _up(cli, tmp_path, "--detach")
        assert result.exit_code == 0, result.stderr
    assert len(cluster.find("Deployment", "bench")) == 1
    assert len([p for p in cluster.find("Pod", "bench")
                if p["metadata"]["labels"]["orchestrator.component"] == "client"]) == 1
    deployment = cluster.find("Deployment", "bench")[0]
    assert "orchestrator.run" in deployment["metadata"]["labels"]
    assert "orchestrator.run" not in deployment["spec"]["template"]["metadata"]["labels"]

    ps = cli("ps", "-f", TINY, *ON_FAKE)
    assert ps.exit_code == 0
    assert "cpu-tiny-server-fake-0" in ps.stdout and "fake-node-1" in ps.stdout
    assert "1/1 ready" in ps.stdout and "restarts" in ps.stdout
    logs = cli("logs", "server", "--file", TINY, *ON_FAKE, "--tail", "1")
    assert logs.stdout == "INFO fake: Application startup complete.\n"

    cluster.deletions_take_s = 1.0
    down = cli("down", "-f", TINY, *ON_FAKE)
    assert down.exit_code == 0
    assert "removed deployment cpu-tiny-server" in down.stdout
    assert "removed namespace bench" in down.stdout
    assert _ours(cluster) == []  # down returned only once everything was gone
    again = cli("down", "-f", TINY, *ON_FAKE)
    assert again.exit_code == 0 and "nothing of project cpu-tiny to remove" in again.stdout


CRASH = {"terminated": {"exitCode": 1, "reason": "Error"}}
OOM = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
TRIAGE = {
    "image-pull": (
        PodScript([(0, {"phase": "Pending"}),
                   (0.2, waiting("ImagePullBackOff", "Back-off pulling image \"vllm/x:9\""))]),
        "cannot pull image", "check server.image, the registry and its pull secret"),
    "no-gpu": (
        PodScript([(0, pending_unschedulable("0/4 nodes are available: 4 Insufficient nvidia.com/gpu."))]),
        "cannot be scheduled (0/4 nodes are available: 4 Insufficient nvidia.com/gpu.)",
        "lower server.gpus or free GPUs"),
    "missing-claim": (  # the message a real 1.34 scheduler gives (seen on the real cluster)
        PodScript([(0, pending_unschedulable(
            '0/1 nodes are available: persistentvolumeclaim "hf-cache" not found. not found'))]),
        "cannot be scheduled", "create that PersistentVolumeClaim in the namespace"),
    "taint": (
        PodScript([(0, pending_unschedulable(
            "0/2 nodes are available: 2 node(s) had untolerated taint {nvidia.com/gpu: present}."))]),
        "cannot be scheduled", "add tolerations in runtime.kubernetes.tolerations"),
    "oom": (
        PodScript([(0, running(False)), (0.3, waiting("CrashLoopBackOff", restarts=1, last=OOM))]),
        "was OOM-killed (exit 137)", "lower server.max_num_seqs or server.max_model_len"),
    "crash-loop": (
        PodScript([(0, running(False)), (0.3, waiting("CrashLoopBackOff", restarts=3, last=CRASH))],
                  previous_logs="INFO loading\nValueError: no such model /models/nope\n"),
        "keeps crashing (CrashLoopBackOff, 3 restarts, last exit code 1)", "ValueError: no such model"),
}


@pytest.mark.parametrize("case", list(TRIAGE))
def test_triage_turns_pod_failures_into_one_clear_line(cli, cluster, tmp_path, case) -> None:
    script, message, fix = TRIAGE[case]
    cluster.server_script = lambda: script
    result = _up(cli, tmp_path)
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: the server container cpu-tiny-server ")
    assert message in first
    assert fix in result.stderr
    assert "Traceback" not in result.stderr
    assert _ours(cluster) == []


def test_startup_timeout(cli, cluster, tmp_path) -> None:
    cluster.server_script = lambda: PodScript([(0, running(False))])
    result = _up(cli, tmp_path, "--set", "server.startup_timeout=2")
    assert result.exit_code == 1
    assert "error: the server was not ready within server.startup_timeout = 2s (still waiting for" \
        " server pod cpu-tiny-server-fake-0: Running, not ready yet)" in result.stderr
    assert _ours(cluster) == []


def test_missing_namespace_is_refused_before_anything_starts(cli, cluster, tmp_path) -> None:
    result = cli("up", "bench", "-f", TINY, "--runtime", "kubernetes",
                 "--set", "runtime.kubernetes.namespace=nowhere")
    assert result.exit_code == 1
    assert "error: namespace nowhere (runtime.kubernetes.namespace) does not exist" in result.stderr
    assert not [r for r in cluster.requests if r[0] == "PATCH"]


def test_multi_node_server_needs_the_lws_api(cli, cluster, tmp_path) -> None:
    """The fake has LeaderWorkerSet installed; a multi-node server is applied as one."""
    result = cli("up", "bench", "-f", "tests/render_configs/kubernetes-multinode.yaml", "--detach",
                 "--set", "runtime.kubernetes.create_namespace=true", "--set", f"results_dir={tmp_path}")
    assert result.exit_code == 0, result.stderr
    (lws,) = cluster.find("LeaderWorkerSet", "llm")
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert cli("down", "-f", "tests/render_configs/kubernetes-multinode.yaml").exit_code == 0


def test_ctrl_c_mid_sweep_keeps_finished_points_and_removes_everything(cluster, tmp_path) -> None:
    client = ClientPod(cluster, hold_at=4)
    cluster.exec_handler = client
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "up", "bench", "-f", TINY, *ON_FAKE,
         "--set", f"results_dir={results}"],
        cwd=REPO, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(results.glob("*/raw/v0/w0-c1-*.json")):
        time.sleep(0.2)
    time.sleep(0.5)  # now blocked inside concurrency 4
    proc.send_signal(signal.SIGINT)
    time.sleep(1)  # the point that ends after Ctrl-C is not collected
    client.release.set()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted; everything started was removed" in stderr
    assert [p.name for p in results.glob("*/raw/*/*.json")] == ["w0-c1-r0.json"]
    assert _ours(cluster) == []


def test_logs_follow_keeps_streaming_until_stopped(cli, cluster, tmp_path) -> None:
    assert _up(cli, tmp_path, "--detach").exit_code == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "logs", "server", "-f", "--file", TINY, *ON_FAKE],
        cwd=REPO, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the log line itself (however long a busy machine takes to start the CLI), then
    # check that the follower keeps the stream open after it.
    assert follower.stdout is not None
    first = follower.stdout.readline()
    assert "Application startup complete" in first, follower.stderr.read() if follower.stderr else ""
    assert follower.poll() is None  # still following
    follower.send_signal(signal.SIGINT)
    follower.communicate(timeout=20)
    assert follower.returncode == 130
    assert cli("down", "-f", TINY, *ON_FAKE).exit_code == 0


def test_context_picks_the_cluster(cli, cluster, tmp_path, monkeypatch) -> None:
    config = json.loads(Path(cluster.kubeconfig(str(tmp_path / "base"))).read_text())
    config["clusters"].append({"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "fake"}})
    config["current-context"] = "dead"
    (tmp_path / "two").write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "two"))
    assert cli("ps", "-p", "cpu-tiny", "--runtime", "kubernetes").exit_code == 1  # current: dead
    chosen = cli("ps", "-p", "cpu-tiny", "--runtime", "kubernetes", "--context", "fake")
    assert chosen.exit_code == 0, chosen.stderr


def test_train_manifests_applied_then_ps_logs_and_down(cli, cluster, tmp_path) -> None:
    """The train stack as `kubectl apply -f out/` would create it (server-side apply of the
    rendered objects), then ps, logs and down by label, as the README shows."""
    from orchestrator.config import load_config
    from orchestrator.plan import build_train_plan, scope_of
    from orchestrator.runtime.kubernetes.engine import KubernetesRuntime

    sets = ["runtime.kind=kubernetes", "trainer.gpus=1", "trainer.rollout.gpus=1"]
    loaded = load_config(REPO / "examples" / "gpu-train.yaml", sets=sets, environ={})
    KubernetesRuntime(scope_of(loaded.spec)).up(build_train_plan(loaded.spec, loaded.project))
    kinds = sorted(f"{o['kind']} {o['metadata']['name']}" for kind in ("Job", "Deployment", "Service")
                   for o in cluster.find(kind))
    assert kinds == ["Deployment qwen-grpo-rollout", "Job qwen-grpo-trainer", "Service qwen-grpo-rollout"]

    on = ["-p", "qwen-grpo", "--runtime", "kubernetes"]
    ps = cli("ps", *on)
    assert ps.exit_code == 0, ps.stderr
    assert "qwen-grpo-trainer-0-fake" in ps.stdout and "trainer" in ps.stdout
    assert cli("ps", "trainer", "-q", *on).stdout.split() == ["qwen-grpo-trainer-0-fake"]
    logs = cli("logs", "trainer", *on)
    assert logs.exit_code == 0 and logs.stdout  # the pod's (scripted) log
    down = cli("down", *on)
    assert down.exit_code == 0, down.stderr
    assert "removed job qwen-grpo-trainer" in down.stdout
    assert "removed deployment qwen-grpo-rollout" in down.stdout
    assert not [o for kind in ("Job", "Pod", "Deployment", "Service", "ConfigMap")
                for o in cluster.find(kind)
                if (o["metadata"].get("labels") or {}).get("orchestrator.project") == "qwen-grpo"]


def test_a_sweep_in_two_lanes_runs_two_deployments_at_once(cli, cluster, tmp_path) -> None:
    result = _up(cli, tmp_path, "--sweep", "server.max_num_seqs=4,8", "--set", "sweep.parallel=2")
    assert result.exit_code == 0, result.stderr
    (run,) = list((tmp_path / "results").iterdir())
    raw = sorted(str(p.relative_to(run / "raw")) for p in (run / "raw").rglob("*.json"))
    assert raw == ["v0/w0-c1-r0.json", "v0/w0-c4-r0.json", "v1/w0-c1-r0.json", "v1/w0-c4-r0.json"]
    applied = {path.rsplit("/", 1)[1] for method, path in cluster.requests
               if method == "PATCH" and "/deployments/" in path}
    assert applied == {"cpu-tiny-s0-server", "cpu-tiny-s1-server"}
    variants = json.loads((run / "variants.json").read_text())
    assert sorted(v["slot"] for v in variants) == [0, 1]
    assert all(v["compile_cache"] == "off" for v in variants)  # an emptyDir: nothing kept
    assert [o for o in cluster.find("Deployment") + cluster.find("Pod")
            if o["metadata"]["name"].startswith("cpu-tiny")] == []
