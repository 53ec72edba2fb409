"""The Kubernetes runtime on a REAL two-node cluster: Kubernetes 1.34 built from Go modules
(host_scripts/k8s_build.sh), started by host_scripts/k8s_cluster.py with Debian's containerd,
runc and CNI plugins (the second node in a network namespace of its own), the CPU image
imported into both nodes. The real API server, scheduler and kubelet judge
server-side apply, probes, exec, logs, Services, Jobs, OOM kills and scheduling.

run_tests.sh builds and names the cluster (ORCHESTRATOR_REAL_K8S); in CI these tests fail, never
skip, without it. They run last (tests/conftest.py), after the background build has finished.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from engine.test_runtime_contract import check_contract, contract_plan
from engine.test_user_workloads import CONVERSATIONS, CUSTOM, check_conversations, check_custom
from test_secrets import CONFIG, OTHER, PLANTED, hits

TINY = "examples/cpu-tiny.yaml"


def _kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl") or str(Path(sys.executable).with_name("kubectl"))
    return subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", *args], capture_output=True,
                          text=True, timeout=300)


def _ours(kubeconfig: str, project: str) -> str:
    """Whatever of the project is left, namespace included (all namespaces, by label)."""
    return _kubectl(kubeconfig, "get", "all,configmap,namespace", "--all-namespaces", "-l",
                    f"orchestrator.project={project}", "-o", "name").stdout.strip()


def _on(kubeconfig: str, *more: str) -> dict[str, str]:
    return {"KUBECONFIG": kubeconfig, **dict(m.split("=", 1) for m in more)}


def _nodes_while(proc: subprocess.Popen[str], kubeconfig: str, selector: str) -> dict[str, str]:
    """The node each pod matching `selector` (any namespace) was placed on, watched until the
    process ends: the run takes its pods down before it returns."""
    nodes: dict[str, str] = {}
    while proc.poll() is None:
        listed = _kubectl(kubeconfig, "get", "pods", "--all-namespaces", "-l", selector, "-o",
                          "jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName}{'\\n'}{end}")
        nodes.update(line.split("=", 1) for line in listed.stdout.split()
                     if not line.endswith("="))  # not scheduled yet
        time.sleep(1)
    return nodes


def test_up_bench_on_a_real_cluster(orch, real_cluster) -> None:
    result = orch("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", "real-tiny",
                  "--set", "runtime.kubernetes.namespace=real-tiny",
                  "--set", "runtime.kubernetes.create_namespace=true",
                  "--set", f"results_dir={orch.results}", env=_on(real_cluster))
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = orch.runs()
    summary = json.loads((run / "summary.json").read_text())
    assert [row["concurrency"] for row in summary] == [1, 4]
    for row in summary:
        data = json.loads((run / row["file"]).read_text())
        assert data["completed"] == 20 and data["failed"] == 0
        assert row["output_throughput"] == data["output_throughput"]
    environment = json.loads((run / "environment.json").read_text())
    assert environment["engine"].startswith("v1.34") and environment["serving"]["version"]
    assert "Application startup complete" in (run / "server.log").read_text()
    assert _ours(real_cluster, "real-tiny") == ""  # the namespace it created went too


def test_the_readme_kubectl_path_on_a_real_cluster(tmp_path, real_cluster) -> None:
    out = tmp_path / "out"
    render = subprocess.run([sys.executable, "-m", "orchestrator", "render", "bench", "-f", TINY,
                             "--runtime", "kubernetes", "-o", str(out)], cwd=REPO,
                            capture_output=True, text=True)
    assert render.returncode == 0, render.stderr
    try:
        assert _kubectl(real_cluster, "apply", "-f", str(out)).returncode == 0
        ready = _kubectl(real_cluster, "wait", "--for=condition=Available",
                         "deployment/cpu-tiny-server", "--timeout=240s")
        assert ready.returncode == 0, ready.stderr
        assert _kubectl(real_cluster, "wait", "--for=condition=Ready", "pod/cpu-tiny-client",
                        "--timeout=120s").returncode == 0
        bench = _kubectl(real_cluster, "exec", "cpu-tiny-client", "-c", "client", "--", "bash",
                         "/opt/orchestrator/scripts/run_benchmark.sh", "--single", "1",
                         "--num-prompts", "5", "--results-dir", "/root/by-hand")
        assert bench.returncode == 0, bench.stderr[-2000:]
        assert "=== done concurrency 1" in bench.stdout
        copied = _kubectl(real_cluster, "cp", "-c", "client", "cpu-tiny-client:/root/by-hand",
                          str(tmp_path / "by-hand"))
        assert copied.returncode == 0, copied.stderr
        (result,) = (tmp_path / "by-hand").glob("results_1_*.json")
        assert json.loads(result.read_text())["completed"] == 5
    finally:
        _kubectl(real_cluster, "delete", "-f", str(out), "--wait=true")
    assert _ours(real_cluster, "cpu-tiny") == ""


def _server_pods(kubeconfig: str, project: str) -> list[str]:
    return _kubectl(kubeconfig, "get", "pods", "-l",
                    f"orchestrator.project={project},orchestrator.component=server",
                    "-o", "jsonpath={.items[*].metadata.uid}").stdout.split()


def test_up_twice_in_place_then_ps_logs_follow_and_down_twice(orch, real_cluster) -> None:
    on = ["--file", TINY, "--runtime", "kubernetes", "-p", "real-twice"]
    env = _on(real_cluster)
    try:
        first = orch("up", "bench", *on, "--detach", "--set", f"results_dir={orch.results}", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        pods = _server_pods(real_cluster, "real-twice")
        assert len(pods) == 1
        again = orch("up", "bench", *on, "--detach", "--set", f"results_dir={orch.results}", env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert _server_pods(real_cluster, "real-twice") == pods  # the same pod: updated in place

        ps = orch("ps", *on, env=env)
        assert ps.returncode == 0, ps.stderr
        assert "real-twice-server-" in ps.stdout and "1/1 ready" in ps.stdout
        assert "orchestrator-node" in ps.stdout

        follower = orch.popen("logs", "server", "-f", *on, env=env)
        assert follower.stdout is not None
        seen = ""
        while "Application startup complete" not in seen:
            line = follower.stdout.readline()
            assert line, follower.communicate()[1]
            seen += line
        time.sleep(1)
        assert follower.poll() is None  # still following after the last line
        follower.send_signal(signal.SIGINT)
        follower.communicate(timeout=30)
        assert follower.returncode == 130

        # That server, for another project, is one it did not start: benchmarked through its
        # Service from a client pod of its own, and left running.
        other = orch("up", "bench", "--file", TINY, "--runtime", "kubernetes", "-p",
                     "real-external", "--set", "client.server_url=http://real-twice-server:8000",
                     "--set", "workload.concurrency=[2]", "--set", "workload.output_len=8",
                     "--set", f"results_dir={orch.results}/external", env=env)
        assert other.returncode == 0, other.stderr[-3000:] + other.stdout[-3000:]
        assert "http://real-twice-server:8000 serves tiny-qwen2: max length 512" in other.stdout
        (run,) = sorted((orch.results / "external").iterdir())
        (variant,) = json.loads((run / "variants.json").read_text())
        assert variant["server"] == "external" and variant["endpoint"]["metrics"] is True
        assert json.loads((run / "summary.json").read_text())[0]["failed"] == 0
        assert _ours(real_cluster, "real-external") == ""
        assert _server_pods(real_cluster, "real-twice") == pods
    finally:
        down = orch("down", *on, env=env)
    assert down.returncode == 0, down.stderr
    assert "removed deployment real-twice-server" in down.stdout
    assert _ours(real_cluster, "real-twice") == ""
    twice = orch("down", *on, env=env)
    assert twice.returncode == 0 and "nothing of project real-twice to remove" in twice.stdout


TRIAGE = {
    "missing-image": (["server.image=orchestrator-not-built:v0"],
                      "cannot pull image orchestrator-not-built:v0", "check server.image"),
    "no-gpu": (["server.gpus=1"], "cannot be scheduled (0/2 nodes are available: 2 Insufficient"
               " nvidia.com/gpu.", "lower server.gpus"),
    "oom-killed": (["server.memory_limit=300m"],
                   "was OOM-killed (exit 137) at its memory limit 300Mi", "raise server.memory_limit"),
    "bad-flag": (["server.extra_args=[--no-such-flag]"], "keeps crashing (CrashLoopBackOff",
                 "vllm: error: unrecognized arguments: --no-such-flag"),
    "missing-claim": (["runtime.kubernetes.model_cache_pvc=no-such-claim"],
                      'cannot be scheduled (0/2 nodes are available: persistentvolumeclaim'
                      ' "no-such-claim" not found', "create that PersistentVolumeClaim"),
    "startup-timeout": (["server.startup_timeout=8"],
                        "the server was not ready within server.startup_timeout = 8s",
                        "raise server.startup_timeout"),
}


@pytest.mark.parametrize("case", list(TRIAGE))
def test_triage_on_real_pods(orch, real_cluster, case) -> None:
    sets, message, fix = TRIAGE[case]
    project = f"real-{case}"
    result = orch("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", project,
                  "--set", f"results_dir={orch.results}",
                  *[arg for s in sets for arg in ("--set", s)], env=_on(real_cluster))
    assert result.returncode == 1, result.stderr[-3000:]
    first = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert message in first
    assert fix in result.stderr
    assert "Traceback" not in result.stderr
    assert _ours(real_cluster, project) == ""


def test_a_client_pod_gone_while_the_server_starts_ends_the_wait(orch, real_cluster) -> None:
    """The client pod checks the server's readiness: deleted meanwhile, `up` says so in one line
    at once (before: it waited out server.startup_timeout showing 'client pod ...: Failed')."""
    project = "real-noclient"
    proc = orch.popen("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", project,
                      "--set", f"results_dir={orch.results}", env=_on(real_cluster))
    try:
        deadline = time.monotonic() + 120
        while _kubectl(real_cluster, "get", "pod", f"{project}-client").returncode != 0:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.5)
        assert _kubectl(real_cluster, "delete", "pod", f"{project}-client").returncode == 0
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # still waiting: Ctrl-C takes it down as a user would
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
    assert proc.returncode == 1, stderr[-3000:]
    first = next(line for line in stderr.splitlines() if line.startswith("error: "))
    assert first.startswith(f"error: the server container {project}-server could not be checked: the"
                            " client pod, which checks it, is gone (deleted) while starting"), first
    assert "Traceback" not in stderr
    assert _ours(real_cluster, project) == ""


def test_a_missing_namespace_is_refused_before_anything_starts(orch, real_cluster) -> None:
    result = orch("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", "real-nowhere",
                  "--set", "runtime.kubernetes.namespace=nowhere", env=_on(real_cluster))
    assert result.returncode == 1
    assert "error: namespace nowhere (runtime.kubernetes.namespace) does not exist" in result.stderr
    assert _ours(real_cluster, "real-nowhere") == ""


def test_context_picks_the_cluster(orch, real_cluster, tmp_path) -> None:
    config = json.loads(_kubectl(real_cluster, "config", "view", "--raw", "--flatten",
                                 "-o", "json").stdout)
    real = config["current-context"]
    config["clusters"].append({"name": "dead", "cluster": {"server": "https://127.0.0.1:9"}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "admin"}})
    config["current-context"] = "dead"
    (tmp_path / "two").write_text(json.dumps(config))
    on = ["-p", "real-context", "--runtime", "kubernetes"]
    dead = orch("ps", *on, env=_on(str(tmp_path / "two")))
    assert dead.returncode == 1 and "cannot reach the Kubernetes API at https://127.0.0.1:9" \
        in dead.stderr
    chosen = orch("ps", *on, "--context", real, env=_on(str(tmp_path / "two")))
    assert chosen.returncode == 0, chosen.stderr


def test_a_sweep_in_two_lanes_runs_two_servers_at_once(orch, real_cluster) -> None:
    result = orch("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", "real-lanes",
                  "--sweep", "server.max_num_seqs=4,8", "--set", "sweep.parallel=2",
                  "--set", "workload.num_prompts=8", "--set", "workload.concurrency=[2]",
                  "--set", f"results_dir={orch.results}",
                  env=_on(real_cluster))
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = orch.runs()
    raw = sorted(str(p.relative_to(run / "raw")) for p in (run / "raw").rglob("*.json"))
    assert raw == ["v0/w0-c2-r0.json", "v1/w0-c2-r0.json"]
    variants = json.loads((run / "variants.json").read_text())
    assert sorted(v["slot"] for v in variants) == [0, 1]
    first, second = sorted(variants, key=lambda v: v["started_at"])
    assert second["started_at"] < first["ended_at"]  # both servers up at once
    assert _ours(real_cluster, "real-lanes") == ""


def test_ctrl_c_mid_sweep_on_a_real_cluster(orch, real_cluster) -> None:
    proc = orch.popen("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", "real-sigint",
                      "--set", "workload.concurrency=[1, 2, 3]",
                      "--set", f"results_dir={orch.results}", env=_on(real_cluster))
    stderr = orch.interrupt_after_first_point(proc, wait_s=400)
    assert proc.returncode == 130, stderr[-3000:]
    assert "error: interrupted; everything started was removed, finished points are in" in stderr
    (run,) = orch.runs()
    kept = sorted(p.name for p in (run / "raw" / "v0").glob("*.json"))
    assert kept and len(kept) < 3
    assert all(json.loads((run / "raw" / "v0" / name).read_text())["completed"] == 20 for name in kept)
    assert _ours(real_cluster, "real-sigint") == ""


def test_the_runtime_contract_on_a_real_cluster(real_cluster, cpu_image, tmp_path,
                                                 monkeypatch) -> None:
    from orchestrator.runtime.registry import get_runtime

    monkeypatch.setenv("KUBECONFIG", real_cluster)
    # Pods take seconds to start here: the trainer outlives the steps before `wait`.
    plan = contract_plan("kubernetes", cpu_image, trainer_s=40)
    runtime = get_runtime("kubernetes", "contract", plan.scope)
    try:
        check_contract(runtime, plan, tmp_path)
    finally:
        runtime.down(plan.project)
    assert _ours(real_cluster, plan.project) == ""


def test_up_train_on_a_real_cluster(orch, real_cluster) -> None:
    # The prompts from a file on this machine reach the trainer pod in a ConfigMap.
    # Detached, followed, then taken down: `down` brings the output home from the finished
    # trainer's pod (its results container) before it removes the Job.
    on = ("--runtime", "kubernetes", "-p", "real-train")
    result = orch("up", "train", "-f", "examples/cpu-train.yaml", *on, "--detach",
                  "--set", f"trainer.results_dir={orch.results}",
                  "--set", "trainer.dataset_path=examples/data/grpo-questions.jsonl",
                  "--set", "trainer.save_steps=1", env=_on(real_cluster))
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    followed = orch("logs", "trainer", "-f", *on, env=_on(real_cluster), timeout=600)
    assert "train_grpo.py: done" in followed.stdout, followed.stderr[-3000:]
    down = orch("down", *on, env=_on(real_cluster))
    assert "brought the trainer's output home" in down.stdout, down.stderr[-3000:]
    (run,) = orch.runs()
    with (run / "metrics.csv").open() as handle:
        steps = [row["step"] for row in csv.DictReader(handle) if row.get("loss")]
    assert steps == ["1", "2", "3"]  # max_steps: 3
    assert (run / "final" / "model.safetensors").stat().st_size > 0
    settings = json.loads((run / "settings.json").read_text())
    assert settings["max_steps"] == 3 and settings["dataset"] == "/datasets/grpo-questions.jsonl"
    assert "LLM Generation" in (run / "rollouts.log").read_text()
    assert "train_grpo.py: done" in (run / "trainer.log").read_text()
    assert _ours(real_cluster, "real-train") == ""
    # Resumed from its second checkpoint (the third removed, as if it had died after step 2):
    # the checkpoint goes from this machine into the new trainer pod (tar over exec into its
    # init container), and step 3 runs again, once.
    shutil.rmtree(run / "checkpoint-3")
    resumed = orch("up", "train", "--resume", str(run), *on, env=_on(real_cluster))
    assert resumed.returncode == 0, resumed.stderr[-3000:] + resumed.stdout[-3000:]
    assert "going on from checkpoint-2" in resumed.stdout
    with (run / "metrics.csv").open() as handle:
        again = [row["step"] for row in csv.DictReader(handle) if row.get("loss")]
    assert again == ["1", "2", "3"]
    settings = json.loads((run / "settings.json").read_text())
    assert settings["resume_from"] == "/root/resume/checkpoint-2"
    assert (run / "checkpoint-3" / "trainer_state.json").exists()
    assert _ours(real_cluster, "real-train") == ""


# Run in the trainer container: SIGKILL to the Python process running train_grpo.py (not its
# shell wrapper, not itself), as the OOM killer would.
KILL_TRAINER = """import os, signal
for pid in filter(str.isdigit, os.listdir("/proc")):
    argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    if int(pid) != os.getpid() and b"python" in argv[0] and any(b"train_grpo.py" in a for a in argv):
        os.kill(int(pid), signal.SIGKILL)
"""


def _trainer_logged(kubeconfig: str, project: str, text: str, timeout_s: float = 300) -> str:
    """Wait until the project's trainer container has logged `text`; return its pod's name."""
    deadline = time.monotonic() + timeout_s
    selector = f"orchestrator.project={project},orchestrator.component=trainer"
    while True:
        pods = _kubectl(kubeconfig, "get", "pods", "--all-namespaces", "-l", selector, "-o",
                        "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {end}")
        for pod in pods.stdout.split():
            namespace, name = pod.split("/")
            log = _kubectl(kubeconfig, "logs", "-n", namespace, name, "-c", "trainer")
            if text in log.stdout:
                return pod
        assert time.monotonic() < deadline, f"the trainer never logged {text!r}"
        time.sleep(0.5)


def test_a_killed_then_interrupted_trainer_resumes_on_a_real_cluster(orch, real_cluster) -> None:
    """As on Docker: the trainer process killed (as by the OOM killer) once checkpoint 2 is
    saved, then a resume interrupted by Ctrl-C once checkpoint 4 is, then resumed to the end:
    every checkpoint home as it was written, each resume from the last one home."""
    on = ("--runtime", "kubernetes", "-p", "real-kill")
    sets = ("--set", f"trainer.results_dir={orch.results}", "--set", "trainer.max_steps=5",
            "--set", "trainer.save_steps=1", "--set", "trainer.save_total_limit=2")
    proc = orch.popen("up", "train", "-f", "examples/cpu-train.yaml", *on, *sets,
                      env=_on(real_cluster))
    namespace, pod = _trainer_logged(real_cluster, "real-kill", "checkpoint-2 saved").split("/")
    killed = _kubectl(real_cluster, "exec", "-n", namespace, pod, "-c", "trainer", "--",
                      "python3", "-c", KILL_TRAINER)
    assert killed.returncode == 0, killed.stderr
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "exited with code 137" in err, err[-3000:] + out[-3000:]
    (run,) = orch.runs()
    assert (run / "checkpoint-2" / "trainer_state.json").exists()
    assert _ours(real_cluster, "real-kill") == ""
    proc = orch.popen("up", "train", *on, "--resume", str(run), env=_on(real_cluster))
    _trainer_logged(real_cluster, "real-kill", "checkpoint-4 saved")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    assert "going on from checkpoint-2" in out
    assert (run / "checkpoint-4" / "trainer_state.json").exists()
    assert _ours(real_cluster, "real-kill") == ""
    again = orch("up", "train", *on, "--resume", str(run), env=_on(real_cluster))
    assert again.returncode == 0, again.stderr[-3000:] + again.stdout[-3000:]
    assert "going on from checkpoint-4" in again.stdout
    with (run / "metrics.csv").open() as handle:
        steps = [row["step"] for row in csv.DictReader(handle) if row.get("loss")]
    assert steps == ["1", "2", "3", "4", "5"]
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-5"]
    assert (run / "final" / "model.safetensors").stat().st_size > 0
    assert _ours(real_cluster, "real-kill") == ""


def test_a_trainer_across_two_pods_on_a_real_cluster(orch, real_cluster) -> None:
    """trainer.nodes = 2 on CPU: the indexed Job's two pods, one on each node, run one torchrun
    job (gloo), found through the headless Service; rank 0's output and both ranks' logs come
    home."""
    proc = orch.popen("up", "train", "-f", "examples/cpu-train.yaml", "--runtime", "kubernetes",
                      "-p", "real-ranks", "--set", "trainer.nodes=2", "--set",
                      "trainer.max_steps=2", "--set", f"trainer.results_dir={orch.results}",
                      env=_on(real_cluster))
    nodes = _nodes_while(proc, real_cluster, "orchestrator.project=real-ranks,"
                                             "orchestrator.component=trainer")
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:] + out[-3000:]
    assert sorted(nodes.values()) == ["orchestrator-node", "orchestrator-node2"], nodes
    (run,) = orch.runs()
    assert "train_grpo.py: rank 0 of 2 (gloo)" in (run / "trainer.log").read_text()
    assert "train_grpo.py: rank 1 of 2 (gloo)" in (run / "trainer-rank1.log").read_text()
    with (run / "metrics.csv").open() as handle:
        steps = [row["step"] for row in csv.DictReader(handle) if row.get("loss")]
    assert steps == ["1", "2"]
    assert (run / "final" / "model.safetensors").stat().st_size > 0
    assert _ours(real_cluster, "real-ranks") == ""


def test_a_multi_node_server_is_a_real_leaderworkerset(tmp_path, real_cluster, cpu_image) -> None:
    """LWS's CRD and webhooks judge the rendered LeaderWorkerSet (server-side dry run), and its
    controller (a host process beside the cluster) makes the leader and worker pods. They stay
    Pending: the node has no GPU for their nvidia.com/gpu requests, so no server runs."""
    out = tmp_path / "out"
    render = subprocess.run(
        [sys.executable, "-m", "orchestrator", "render", "bench", "-f",
         "tests/render_configs/kubernetes-multinode.yaml", "--set", f"server.image={cpu_image}",
         "--set", f"client.image={cpu_image}", "--set", "runtime.kubernetes.namespace=real-lws",
         "--set", "runtime.kubernetes.model_cache_pvc=null",
         "--set", "runtime.kubernetes.create_namespace=true", "-o", str(out)],
        cwd=REPO, capture_output=True, text=True)
    assert render.returncode == 0, render.stderr
    assert _kubectl(real_cluster, "create", "namespace", "real-lws").returncode == 0
    try:
        dry = _kubectl(real_cluster, "apply", "--dry-run=server", "-f", str(out))
        assert dry.returncode == 0, dry.stderr
        assert "leaderworkerset.leaderworkerset.x-k8s.io/multinode-server created (server dry run)" \
            in dry.stdout
        assert _kubectl(real_cluster, "apply", "-f", str(out)).returncode == 0
        roles: dict[str, str] = {}
        deadline = time.monotonic() + 120
        while len(roles) < 2 and time.monotonic() < deadline:
            listed = _kubectl(real_cluster, "get", "pods", "-n", "real-lws", "-l",
                              "leaderworkerset.sigs.k8s.io/name=multinode-server", "-o", "json")
            roles = {pod["metadata"]["name"]:
                     pod["metadata"]["labels"].get("leaderworkerset.sigs.k8s.io/worker-index", "")
                     for pod in json.loads(listed.stdout or "{}").get("items", [])}
            time.sleep(1)
        assert roles == {"multinode-server-0": "0", "multinode-server-0-1": "1"}  # leader, worker
        pending = _kubectl(real_cluster, "get", "pod", "multinode-server-0", "-n", "real-lws",
                           "-o", "jsonpath={.status.conditions[0].message}")
        assert "Insufficient nvidia.com/gpu" in pending.stdout
    finally:
        _kubectl(real_cluster, "delete", "-f", str(out), "--wait=true")
    assert _ours(real_cluster, "multinode") == ""

    # `up` applies the same LeaderWorkerSet, reads its leader pod, and removes it all again.
    up = subprocess.run(
        [sys.executable, "-m", "orchestrator", "up", "bench", "-f",
         "tests/render_configs/kubernetes-multinode.yaml", "-p", "real-lws",
         "--set", f"server.image={cpu_image}", "--set", f"client.image={cpu_image}",
         "--set", "runtime.kubernetes.namespace=real-lws",
         "--set", "runtime.kubernetes.create_namespace=true",
         "--set", "runtime.kubernetes.model_cache_pvc=null", "--set", f"results_dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, **_on(real_cluster)})
    assert up.returncode == 1
    assert "error: the server container real-lws-server cannot be scheduled (0/2 nodes are" \
        " available: 2 Insufficient nvidia.com/gpu." in up.stderr
    assert _ours(real_cluster, "real-lws") == ""
    assert _kubectl(real_cluster, "get", "statefulsets,pods", "-n", "real-lws", "-o",
                    "name").stdout.strip() == ""


MULTI_NODE = "tests/render_configs/kubernetes-multinode.yaml"
MULTI_NODE_CPU = [  # the multi-node config on CPU: tensor parallel 2, one worker per pod
    "--set", "runtime.kubernetes.create_namespace=true",
    "--set", "runtime.kubernetes.model_cache_pvc=null", "--set", "server.model=/models/tiny-qwen2",
    "--set", "server.gpus=0", "--set", "server.tensor_parallel_size=2",
    "--set", "server.pipeline_parallel_size=1", "--set", "server.max_model_len=512",
    "--set", "server.dtype=bfloat16", "--set", "server.enforce_eager=true",
    "--set", 'server.extra_args=["--kv-cache-memory-bytes", "64M"]',
    "--set", "server.startup_timeout=600", "--set", "server.shm_size=1g",
    "--set", "workload.num_prompts=8", "--set", "workload.input_len=64"]
NODE2_NETNS = "/run/netns/orch-k8s-node2"  # host_scripts/k8s_cluster.py's second node


def _multi_node(orch, verb: list[str], project: str, image: str, *more: str) -> list[str]:
    return [*verb, "--file", MULTI_NODE, *MULTI_NODE_CPU, "-p", project, "--set",
            f"server.image={image}", "--set", f"client.image={image}",
            "--set", f"runtime.kubernetes.namespace={project}",
            "--set", f"results_dir={orch.results}", *more]


def test_one_server_across_two_nodes_then_its_worker_lost(orch, real_cluster, cpu_image) -> None:
    """The LeaderWorkerSet's leader and worker, one on each node, each run `vllm serve` (vLLM's
    own multi-node launch, tensor parallel 2 over gloo): one model across both pods, a point
    measured. Then the worker pod is deleted while the second point runs: LeaderWorkerSet
    recreates the group, and `up` fails in one line naming both pods, the point it ran flagged
    server-lost (a resume measures it again), the first kept as it was, nothing left."""
    proc = orch.popen(*_multi_node(orch, ["up", "bench"], "real-mn", cpu_image, "--set",
                                   "workload.output_len=128", "--set",
                                   "workload.concurrency=[2, 1]"), env=_on(real_cluster))
    deadline, rank1 = time.monotonic() + 600, ""
    while proc.poll() is None and time.monotonic() < deadline:
        runs = orch.runs()
        log = runs[0] / "client.log" if runs else None
        if log and log.exists() and "=== concurrency 1 " in log.read_text():
            # The first point is home and the second has begun: rank 1's log, then lose it.
            rank1 = orch(*_multi_node(orch, ["logs", "server", "--replica", "1"], "real-mn",
                                      cpu_image), env=_on(real_cluster)).stdout
            nodes = _kubectl(real_cluster, "get", "pods", "-n", "real-mn", "-o", "jsonpath="
                             "{range .items[*]}{.metadata.name}={.spec.nodeName} {end}").stdout
            _kubectl(real_cluster, "delete", "pod", "real-mn-server-0-1", "-n", "real-mn",
                     "--wait=false")
            break
        time.sleep(0.2)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err[-3000:] + out[-3000:]
    placed = dict(pair.split("=") for pair in nodes.split())
    leader, worker = placed["real-mn-server-0"], placed["real-mn-server-0-1"]
    assert {leader, worker} == {"orchestrator-node", "orchestrator-node2"}, placed
    assert "world_size=2 rank=1" in rank1 and "TP rank 1" in rank1
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "error: v0: the server changed while w0 concurrency 1 ran: real-mn-server-0 (node" \
        f" {leader}) " in line and f"real-mn-server-0-1 (node {worker})" in line
    assert line.endswith("that point is flagged server-lost (a resume measures it again)")
    (run,) = orch.runs()
    first, second = json.loads((run / "summary.json").read_text())
    assert first["concurrency"] == 2 and "server-lost" not in first["flags"]
    assert json.loads((run / first["file"]).read_text())["completed"] == 8
    assert second["concurrency"] == 1 and "server-lost" in second["flags"].split()
    assert (run / "raw" / "v0" / "w0-c1-r0.json.server-lost").exists()
    assert _ours(real_cluster, "real-mn") == ""


def test_a_worker_with_no_node_of_its_own_is_named(orch, real_cluster, cpu_image) -> None:
    """With the second node cordoned, the worker has no node left (one pod per node): `up`
    fails at once in one line naming it, what the scheduler said and the fix; nothing left."""
    assert _kubectl(real_cluster, "cordon", "orchestrator-node2").returncode == 0
    try:
        result = orch(*_multi_node(orch, ["up", "bench"], "real-mnc", cpu_image),
                      env=_on(real_cluster), timeout=300)
    finally:
        _kubectl(real_cluster, "uncordon", "orchestrator-node2")
    assert result.returncode == 1, result.stderr[-3000:] + result.stdout[-3000:]
    assert "error: the server container real-mnc-server (its rank 1 pod real-mnc-server-0-1)" \
        " cannot be scheduled (0/2 nodes are available: 1 node(s) didn't match pod" \
        " anti-affinity rules, 1 node(s) were unschedulable" in result.stderr
    assert "each of the server.nodes pods needs a node of its own" in result.stderr
    assert _ours(real_cluster, "real-mnc") == ""


def test_a_worker_that_never_joins_shows_in_its_log(orch, real_cluster, cpu_image) -> None:
    """The leader's port blocked for pods of the second node (iptables in its network): the
    worker never joins, the start times out, and the error shows each rank's last log lines,
    the worker's under its own heading; nothing left."""
    block = ["nsenter", f"--net={NODE2_NETNS}", "iptables", "FORWARD", "-p", "tcp",
             "--dport", "29501", "-j", "REJECT"]
    subprocess.run([*block[:3], "-I", *block[3:]], check=True)
    try:
        result = orch(*_multi_node(orch, ["up", "bench"], "real-mnj", cpu_image, "--set",
                                   "server.startup_timeout=60"), env=_on(real_cluster),
                      timeout=300)
    finally:
        subprocess.run([*block[:3], "-D", *block[3:]], check=False)
    assert result.returncode == 1, result.stderr[-3000:] + result.stdout[-3000:]
    assert "error: the server was not ready within server.startup_timeout = 60s" in result.stderr
    assert "read the logs of its 2 ranks below (a worker that never joined shows there)" \
        in result.stderr
    leader, worker = result.stderr.split("--- server rank 1 ---")
    assert "world_size=2 rank=0" in leader
    # How far the worker got depends on the machine's load (alone: to "world_size=2 rank=1 ...
    # distributed_init_method=tcp://<leader>:29501", where it waits); its own lines are there.
    assert worker.strip() and "world_size=2 rank=0" not in worker
    assert _ours(real_cluster, "real-mnj") == ""


def test_a_run_on_a_real_cluster_writes_no_secret(orch, real_cluster, tmp_path, monkeypatch) -> None:
    """up bench with secrets in the operator's environment (passed by reference, as Secrets the
    pods read): neither the run folder nor the terminal holds them."""
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    monkeypatch.setenv("WANDB_KEY", OTHER)
    config = tmp_path / "secret.yaml"
    config.write_text(CONFIG)
    result = orch("up", "bench", "-f", str(config), "--runtime", "kubernetes",
                  "--set", "workload.num_prompts=4", "--set", "server.enforce_eager=true",
                  "--set", 'server.extra_args=["--kv-cache-memory-bytes", "64M"]',
                  "--set", f"results_dir={orch.results}", env=_on(real_cluster))
    assert result.returncode == 0, result.stderr[-3000:]
    assert PLANTED not in result.stdout + result.stderr and OTHER not in result.stdout + result.stderr
    (run,) = orch.runs()
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "environment.json", "client.log"}
    assert hits(run) == []
    assert _ours(real_cluster, "secret-probe") == ""


def test_the_users_own_workloads_on_a_real_cluster(orch, real_cluster) -> None:
    """A conversations file in a ConfigMap (small), then a custom JSONL from a node folder."""
    replay = orch("up", "bench", "-f", CONVERSATIONS, "--runtime", "kubernetes", "-p", "real-conv",
                  "--set", f"results_dir={orch.results}/conversations",
                  "--set", "workload.concurrency=[4]", env=_on(real_cluster))
    assert replay.returncode == 0, replay.stderr[-3000:] + replay.stdout[-3000:]
    (run,) = sorted((orch.results / "conversations").iterdir())
    check_conversations(run, [4], recorded=True)
    assert _ours(real_cluster, "real-conv") == ""  # its dataset ConfigMap too
    custom = orch("up", "bench", "-f", TINY, "--runtime", "kubernetes", "-p", "real-custom",
                  "--set", f"results_dir={orch.results}/custom", *CUSTOM,
                  "--set", f"runtime.kubernetes.dataset_host_path={REPO / 'examples' / 'data'}",
                  env=_on(real_cluster))
    assert custom.returncode == 0, custom.stderr[-3000:] + custom.stdout[-3000:]
    (run,) = sorted((orch.results / "custom").iterdir())
    check_custom(run)
    assert _ours(real_cluster, "real-custom") == ""
