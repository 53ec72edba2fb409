"""Pod triage names the config field of the component that failed, not always the server's."""

from __future__ import annotations

import pytest

from orchestrator.runtime.host import ended
from orchestrator.runtime.kubernetes.triage import how_it_ended, triage

OOM = {"status": {"containerStatuses": [{
    "name": "x", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]},
    "spec": {"containers": [{"image": "img"}]}}
PULL = {"status": {"containerStatuses": [{
    "name": "x", "image": "img:9", "state": {"waiting": {"reason": "ErrImagePull", "message": "nope"}}}]},
    "spec": {"containers": [{"image": "img:9"}]}}
NO_GPU = {"status": {"conditions": [{"type": "PodScheduled", "reason": "Unschedulable",
                                     "message": "0/1 nodes: 1 Insufficient nvidia.com/gpu."}]}}


@pytest.mark.parametrize(("role", "oom", "image", "gpus"), [
    ("server", "server.max_num_seqs or server.max_model_len", "server.image", "server.gpus"),
    ("rollout", "trainer.rollout.max_model_len", "trainer.rollout.image", "trainer.rollout.gpus"),
    ("trainer", "trainer.per_device_batch_size", "trainer.image", "trainer.gpus"),
    ("client", "workload.num_prompts", "client.image", "client.gpus"),
])
def test_messages_name_the_failed_components_fields(role: str, oom: str, image: str, gpus: str) -> None:
    assert oom in (triage(OOM, role) or "")
    assert f"check {image}," in (triage(PULL, role) or "")
    assert f"lower {gpus} or free GPUs" in (triage(NO_GPU, role) or "")
    assert oom in ended(role, 137, oom=True)
    if role != "server":
        assert "server." not in (triage(OOM, role) or "")


def test_a_plain_exit_is_not_called_oom() -> None:
    assert ended("trainer", 1, oom=False) == "exited with code 1 (OOM-killed: no)"


def _unschedulable(message: str) -> dict:
    return {"status": {"conditions": [{"type": "PodScheduled", "reason": "Unschedulable",
                                       "message": message}]}}


@pytest.mark.parametrize(("message", "fix"), [
    # A GPU node's taint names nvidia.com/gpu too: the taint is what to fix.
    ("0/2 nodes are available: 2 node(s) had untolerated taint {nvidia.com/gpu: present}.",
     "add tolerations in runtime.kubernetes.tolerations"),
    ('0/1 nodes are available: persistentvolumeclaim "hf-cache" not found. not found',
     "create that PersistentVolumeClaim in the namespace"),
    ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
     "no node matches runtime.kubernetes.node_selector"),
    # A multi-node server's pods go one per node.
    ("0/2 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) were"
     " unschedulable.", "each of the server.nodes pods needs a node of its own"),
])
def test_unschedulable_pods_name_the_fix(message: str, fix: str) -> None:
    said = triage(_unschedulable(message), "server") or ""
    assert said.startswith(f"cannot be scheduled ({message})") and fix in said


def test_an_oom_kill_at_a_memory_limit_names_the_limit_field() -> None:
    pod = {**OOM, "spec": {"containers": [{"name": "x", "image": "img",
                                           "resources": {"limits": {"memory": "300Mi"}}}]}}
    said = triage(pod, "server") or ""
    assert said.startswith("was OOM-killed (exit 137) at its memory limit 300Mi; raise"
                           " server.memory_limit, or lower server.max_num_seqs")
    assert "memory limit" not in (triage(OOM, "server") or "")  # no limit: none named


def test_how_a_pod_ended_says_the_kubelets_reason() -> None:
    """A pod the kubelet refused or evicted, and a container the runtime could not start, are
    named with their reason: a wait that sees them ends at once, saying why (a CI run once
    waited 600 s on a client pod shown only as 'Failed')."""
    refused = {"status": {"phase": "Failed", "reason": "OutOfcpu",
                          "message": "Pod was rejected: Node didn't have enough resource: cpu"}}
    assert how_it_ended(refused, "client") == \
        "failed (OutOfcpu: Pod was rejected: Node didn't have enough resource: cpu)"
    start_error = {"status": {"phase": "Failed", "containerStatuses": [{
        "name": "client", "state": {"terminated": {
            "exitCode": 128, "reason": "StartError",
            "message": "failed to create containerd task:\n context deadline exceeded"}}}]}}
    assert how_it_ended(start_error, "client") == ("exited with code 128 (StartError: failed to"
                                                   " create containerd task: context deadline exceeded)")
    plain = {"status": {"phase": "Failed", "containerStatuses": [{
        "name": "trainer", "state": {"terminated": {"exitCode": 2}}}]}}
    assert how_it_ended(plain, "trainer") == "exited with code 2"
