"""The Kubernetes runtime against a FAKE API server, for what the real single-node cluster of
tests/engine/test_kubernetes_real.py cannot show: a GPU train stack whose pods run (the node has
no GPU), and a cluster without the LeaderWorkerSet API (the real one has it installed).
tests/fake_kubernetes/README.md lists these cases.
"""

from __future__ import annotations

import pytest

from conftest import REPO
from fake_kubernetes.server import FakeKubernetes, healthy_server


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Start a fake cluster whose pods become ready."""
    fake = FakeKubernetes(server_script=healthy_server)
    fake.start()
    monkeypatch.setenv("KUBECONFIG", fake.kubeconfig(str(tmp_path / "kubeconfig")))
    yield fake
    fake.stop()


def test_a_cluster_without_leaderworkerset_is_named_for_a_multi_node_server(cli, tmp_path,
                                                                            monkeypatch) -> None:
    fake = FakeKubernetes(lws=False).start()
    try:
        monkeypatch.setenv("KUBECONFIG", fake.kubeconfig(str(tmp_path / "kubeconfig")))
        result = cli("up", "bench", "-f", "tests/render_configs/kubernetes-multinode.yaml",
                     "--set", "runtime.kubernetes.create_namespace=true",
                     "--set", f"results_dir={tmp_path}")
        assert result.exit_code == 1
        assert result.stderr.startswith("error: the cluster has no LeaderWorkerSet API: install LWS"
                                        " (leaderworkerset.x-k8s.io) or set server.nodes to 1")
        assert "Traceback" not in result.stderr
        left = [o for kind in ("ConfigMap", "Namespace", "Service", "Pod") for o in fake.find(kind)
                if (o["metadata"].get("labels") or {}).get("orchestrator.project") == "multinode"]
        assert left == []  # what was applied before the refusal is removed
    finally:
        fake.stop()


def test_gpu_train_manifests_applied_then_ps_logs_and_down(cli, cluster, tmp_path) -> None:
    """The GPU train stack (a rollout server and a trainer with a GPU each) as `kubectl apply -f
    out/` would create it, its pods running as on a GPU node, then ps, logs and down by label."""
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
    # Applied by hand, the trainer has no run folder to bring its output to: `down` refuses,
    # removing nothing, until told to discard it.
    kept = cli("down", *on)
    assert kept.exit_code == 1 and "`orchestrator down --discard -p qwen-grpo`" in kept.stderr
    assert [o["metadata"]["name"] for o in cluster.find("Job")] == ["qwen-grpo-trainer"]
    down = cli("down", *on, "--discard")
    assert down.exit_code == 0, down.stderr
    assert "removed job qwen-grpo-trainer" in down.stdout
    assert "removed deployment qwen-grpo-rollout" in down.stdout
    assert not [o for kind in ("Job", "Pod", "Deployment", "Service", "ConfigMap")
                for o in cluster.find(kind)
                if (o["metadata"].get("labels") or {}).get("orchestrator.project") == "qwen-grpo"]
