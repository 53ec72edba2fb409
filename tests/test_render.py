"""Rendering: golden files for every output, and each output checked by the real tool's rules.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then read the diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import docker
import jsonschema
import kubernetes_validate
import pytest
import yaml
from docker.models.containers import _create_container_args

from orchestrator.resources import data_dir

GOLDEN = Path(__file__).parent / "golden"
CONFIGS = Path(__file__).parent / "render_configs"
SEED = "examples/seed-002-gpt-oss-120b.yaml"
TINY = "examples/cpu-tiny.yaml"
GPU_TRAIN = "examples/gpu-train.yaml"
# Kubernetes hands out GPUs by count: the example's ids become counts there.
TRAIN_COUNTS = ["--set", "trainer.gpus=1", "--set", "trainer.rollout.gpus=1"]

TRAIN_DATASET = ["--set", "trainer.dataset_path=examples/data/grpo-questions.jsonl",
                 "--set", "trainer.rewards=[exact_answer, length_target]"]
CASES: dict[str, list[str]] = {
    "seed-002-docker": ["-f", SEED, "--runtime", "docker"],
    "seed-002-compose": ["-f", SEED, "--runtime", "docker", "--format", "compose"],
    "seed-002-kubernetes": ["-f", SEED, "--runtime", "kubernetes"],
    "cpu-tiny-docker": ["-f", TINY],
    "cpu-tiny-compose": ["-f", TINY, "--format", "compose"],
    "cpu-tiny-kubernetes": ["-f", TINY, "--runtime", "kubernetes"],
    "gpu-ids-docker": ["-f", "tests/render_configs/docker-gpu-ids.yaml"],
    "gpu-ids-compose": ["-f", "tests/render_configs/docker-gpu-ids.yaml", "--format", "compose"],
    "pvc-kubernetes": ["-f", "tests/render_configs/kubernetes-pvc.yaml"],
    "hostpath-kubernetes": ["-f", "tests/render_configs/kubernetes-hostpath.yaml"],
    "multinode-kubernetes": ["-f", "tests/render_configs/kubernetes-multinode.yaml"],
    "external-server-kubernetes": [
        "-f", "tests/render_configs/kubernetes-hostpath.yaml",
        "--set", "client.server_url=http://vllm.llm.svc:8000",
    ],
    # A server running on this host, outside the tool: the client reaches it by Docker's alias.
    "external-host-compose": ["-f", TINY, "--format", "compose",
                              "--set", "client.server_url=http://host.docker.internal:8000"],
    "external-host-docker": ["-f", TINY, "--set",
                             "client.server_url=http://host.docker.internal:8000"],
    # SGLang: the same fields under its flags, on every runtime.
    "sglang-docker": ["-f", "examples/gpu-sglang.yaml"],
    "sglang-compose": ["-f", "examples/gpu-sglang.yaml", "--format", "compose"],
    "sglang-kubernetes": ["-f", "examples/gpu-sglang.yaml", "--runtime", "kubernetes"],
    "sglang-local": ["-f", "examples/gpu-sglang.yaml", "--runtime", "local"],
    "cpu-train-docker": ["-f", "examples/cpu-train.yaml"],
    "gpu-train-docker": ["-f", GPU_TRAIN],
    "gpu-train-compose": ["-f", GPU_TRAIN, "--format", "compose"],
    "gpu-train-kubernetes": ["-f", GPU_TRAIN, "--runtime", "kubernetes", *TRAIN_COUNTS],
    "multinode-train-kubernetes": ["-f", "tests/render_configs/kubernetes-train-multinode.yaml"],
    "cpu-tiny-local": ["-f", TINY, "--runtime", "local"],
    # The user's dataset: in a ConfigMap (small), or on the claim that holds it.
    "conversations-kubernetes": ["-f", "examples/cpu-conversations.yaml", "--runtime", "kubernetes"],
    "dataset-pvc-kubernetes": [
        "-f", "tests/render_configs/kubernetes-pvc.yaml", "--set", "workload.dataset=custom",
        "--set", "workload.dataset_path=examples/data/prompts.jsonl",
        "--set", "runtime.kubernetes.dataset_pvc=datasets",
    ],
    "gpu-train-local": ["-f", GPU_TRAIN, "--runtime", "local"],
    # The trainer's prompts from this machine: a bind mount, or a ConfigMap on Kubernetes.
    "dataset-train-docker": ["-f", "examples/cpu-train.yaml", *TRAIN_DATASET],
    "dataset-train-kubernetes": ["-f", "examples/cpu-train.yaml", "--runtime", "kubernetes",
                                 *TRAIN_DATASET],
}  # fmt: skip
KUBERNETES = [name for name, args in CASES.items() if "kubernetes" in name]
COMPOSE = [name for name in CASES if name.endswith("-compose")]
DOCKER = [name for name in CASES if name.endswith("-docker")]
# The oldest Kubernetes still widely run, and the newest whose schemas we have.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())


def _stack(name: str) -> str:
    return "train" if "-train-" in name else "bench"


def _render(cli, name: str, out: Path) -> dict[str, str]:
    result = cli("render", _stack(name), *CASES[name], "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return {path.name: path.read_text() for path in sorted(out.iterdir())}


def _normalise(text: str) -> str:
    # The scripts folder is wherever this checkout or installation lives.
    text = text.replace(str(data_dir("container_scripts")), "<container_scripts>")
    return text.replace(str(Path.cwd()), "<cwd>")  # a dataset file's host path


def _objects(files: dict[str, str]) -> list[dict]:
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("name", list(CASES))
def test_golden(cli, tmp_path: Path, name: str) -> None:
    files = {k: _normalise(v) for k, v in _render(cli, name, tmp_path / "out").items()}
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for file_name, text in files.items():
            (golden / file_name).write_text(text)
    expected = {path.name: path.read_text() for path in sorted(golden.iterdir())}
    assert files == expected


@pytest.mark.parametrize("name", list(CASES))
def test_stdout_matches_written_files(cli, tmp_path: Path, name: str) -> None:
    files = _render(cli, name, tmp_path / "out")
    printed = cli("render", _stack(name), *CASES[name])
    assert printed.exit_code == 0
    assert list(yaml.safe_load_all(printed.stdout)) == _objects(files)


@pytest.mark.parametrize("name", KUBERNETES)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_validate_against_kubernetes_schemas(cli, tmp_path, name, version) -> None:
    objects = _objects(_render(cli, name, tmp_path / "out"))
    assert objects
    for obj in objects:
        if obj["kind"] == "LeaderWorkerSet":
            continue  # a CRD: checked by test_multi_node_server_is_a_leaderworkerset
        kubernetes_validate.validate(obj, version, strict=True)


def test_schema_validation_catches_mistakes(cli, tmp_path) -> None:
    """The validator really checks: a misspelt field or a wrong type is refused."""
    objects = _objects(_render(cli, "seed-002-kubernetes", tmp_path / "out"))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["comand"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    service = next(o for o in objects if o["kind"] == "Service")
    service["spec"]["ports"][0]["port"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, K8S_VERSIONS[-1], strict=True)


def test_seed_manifests_request_four_gpus_and_a_startup_budget(cli, tmp_path) -> None:
    files = _render(cli, "seed-002-kubernetes", tmp_path / "out")
    assert list(files) == [
        "00-namespace.yaml",
        "10-scripts-configmap.yaml",
        "20-server-deployment.yaml",
        "30-server-service.yaml",
        "40-client-pod.yaml",
    ]
    by_kind = {o["kind"]: o for o in _objects(files)}
    assert by_kind["Namespace"]["metadata"]["name"] == "bench"
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == 4
    assert server["startupProbe"]["httpGet"]["path"] == "/health"
    assert server["startupProbe"]["periodSeconds"] * server["startupProbe"]["failureThreshold"] == 1800
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}} in pod["volumes"]
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    token = next(e for e in server["env"] if e["name"] == "HF_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "token", "optional": True}
    assert by_kind["Service"]["spec"]["selector"] == by_kind["Deployment"]["spec"]["selector"]["matchLabels"]


LWS_SCHEMA = Path(__file__).parent / "schemas" / "leaderworkerset-v1-core.json"


def test_multi_node_server_is_a_leaderworkerset(cli, tmp_path) -> None:
    files = _render(cli, "multinode-kubernetes", tmp_path / "out")
    assert "20-server-deployment.yaml" not in files
    by_kind = {o["kind"]: o for o in _objects(files)}
    lws = by_kind["LeaderWorkerSet"]
    jsonschema.validate(lws, json.loads(LWS_SCHEMA.read_text()))
    group = lws["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2 and group["restartPolicy"] == "RecreateGroupOnPodRestart"
    leader = group["leaderTemplate"]["spec"]["containers"][0]
    worker = group["workerTemplate"]["spec"]["containers"][0]
    # vLLM's own multi-node launch: the same `vllm serve` in each pod, the workers headless.
    group_args = ["--distributed-executor-backend", "mp", "--nnodes", "2", "--master-addr",
                  "$(LWS_LEADER_ADDRESS)", "--master-port", "29501"]
    assert leader["command"][:2] == ["vllm", "serve"]
    assert leader["command"][leader["command"].index("--pipeline-parallel-size") + 1] == "2"
    assert leader["command"][-len(group_args) - 2:] == [*group_args, "--node-rank", "0"]
    assert worker["command"] == [*leader["command"][:-1], "$(LWS_WORKER_INDEX)", "--headless"]
    assert "TORCHDYNAMO_DISABLE" not in {e["name"] for e in leader["env"]}  # on GPUs, compiled
    for container in (leader, worker):
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert "startupProbe" in leader and "startupProbe" not in worker and "ports" not in worker
    # Both pod templates are checked against Kubernetes' own schema.
    for role in ("leaderTemplate", "workerTemplate"):
        template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
                    "template": group[role]}
        kubernetes_validate.validate(template, K8S_VERSIONS[-1], strict=True)
    # The Service reaches the leader only; the leader carries that label. It is also the
    # LeaderWorkerSet's headless Service (same name), listing the leader before it is ready.
    assert by_kind["Service"]["metadata"]["name"] == lws["metadata"]["name"]
    assert by_kind["Service"]["spec"]["clusterIP"] == "None"
    assert by_kind["Service"]["spec"]["publishNotReadyAddresses"] is True
    selector = by_kind["Service"]["spec"]["selector"]
    assert selector["orchestrator.role"] == "leader"
    assert selector.items() <= group["leaderTemplate"]["metadata"]["labels"].items()
    assert not selector.items() <= group["workerTemplate"]["metadata"]["labels"].items()


def test_lws_schema_catches_mistakes(cli, tmp_path) -> None:
    lws = next(o for o in _objects(_render(cli, "multinode-kubernetes", tmp_path / "o"))
               if o["kind"] == "LeaderWorkerSet")
    schema = json.loads(LWS_SCHEMA.read_text())
    lws["spec"]["leaderWorkerTemplate"]["restartPolicy"] = "Always"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(lws, schema)


def test_configmap_carries_the_container_scripts(cli, tmp_path) -> None:
    by_kind = {o["kind"]: o for o in _objects(_render(cli, "cpu-tiny-kubernetes", tmp_path / "o"))}
    scripts = data_dir("container_scripts")
    expected = {p.name: p.read_text() for p in scripts.iterdir() if p.is_file()}
    assert by_kind["ConfigMap"]["data"] == expected
    assert "run_benchmark.sh" in expected
    client = by_kind["Pod"]["spec"]
    volume = next(v for v in client["volumes"] if v["name"] == "scripts")
    assert volume["configMap"]["defaultMode"] == 0o755
    assert "nvidia.com/gpu" not in str(by_kind["Deployment"])


def test_model_cache_sources(cli, tmp_path) -> None:
    def cache_volume(name: str) -> dict:
        deployment = next(
            o for o in _objects(_render(cli, name, tmp_path / name)) if o["kind"] == "Deployment"
        )
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        return next(v for v in volumes if v["name"] == "model-cache")

    assert cache_volume("pvc-kubernetes")["persistentVolumeClaim"] == {"claimName": "hf-cache"}
    assert cache_volume("hostpath-kubernetes")["hostPath"]["path"] == "/data/hf-cache"
    assert cache_volume("seed-002-kubernetes")["emptyDir"] == {}


def test_no_secret_value_is_ever_rendered(cli, tmp_path) -> None:
    env = {"HF_TOKEN": "hf_do_not_leak", "MY_HF_TOKEN": "hf_do_not_leak"}
    for name in CASES:
        result = cli("render", _stack(name), *CASES[name], env=env)
        assert result.exit_code == 0
        assert "hf_do_not_leak" not in result.stdout


@pytest.mark.parametrize("name", DOCKER)
def test_docker_sdk_accepts_the_rendered_arguments(cli, tmp_path, name) -> None:
    """Run our kwargs through the Docker SDK's own create path (no engine is contacted)."""
    rendered = yaml.safe_load(_render(cli, name, tmp_path / "out")["docker.yaml"])
    api = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.44")
    for kwargs in rendered["containers"]:
        args = _create_container_args({**kwargs, "version": "1.44"})
        args.pop("name")
        config = api.create_container_config(**args)
        assert config["Image"] == kwargs["image"]
        assert config["Entrypoint"] == kwargs["entrypoint"]
        assert config["Labels"] == kwargs["labels"]
        host = config["HostConfig"]
        assert host["NetworkMode"] == rendered["network"]["name"]
        if "device_requests" in kwargs:
            request = host["DeviceRequests"][0]
            assert request["Driver"] == "nvidia" and request["Capabilities"] == [["gpu"]]
            assert request["Count"] or request["DeviceIDs"]
        if "shm_size" in kwargs:
            assert host["ShmSize"] == kwargs["shm_size"]
        if "mem_limit" in kwargs:
            assert host["Memory"] == kwargs["mem_limit"]
        if kwargs.get("healthcheck"):
            assert config["Healthcheck"]["Test"][0] == "CMD"


def test_gpu_ids_and_published_port(cli, tmp_path) -> None:
    rendered = yaml.safe_load(_render(cli, "gpu-ids-docker", tmp_path / "out")["docker.yaml"])
    server = rendered["containers"][0]
    assert server["device_requests"][0]["DeviceIDs"] == ["2", "3"]
    assert server["ports"] == {"8000/tcp": 18000}
    assert server["environment"]["HF_TOKEN"] == "${MY_HF_TOKEN}"
    assert server["mem_limit"] == 48 * 1024**3  # server.memory_limit: 48g


def test_memory_limit_is_the_server_containers_limit(cli, tmp_path) -> None:
    deployment = next(o for o in _objects(_render(cli, "pvc-kubernetes", tmp_path / "out"))
                      if o["kind"] == "Deployment")
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert server["resources"]["limits"]["memory"] == "48Gi"


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.parametrize("name", COMPOSE)
def test_docker_compose_accepts_the_compose_file(cli, tmp_path, name, in_ci) -> None:
    compose = _compose_command()
    if compose is None:
        if in_ci:
            pytest.fail("neither `docker compose` nor docker-compose is installed; run_tests.sh installs it")
        pytest.skip("docker compose is not installed (host_scripts/run_tests.sh installs it)")
    out = tmp_path / "out"
    _render(cli, name, out)
    result = subprocess.run(
        [*compose, "-f", str(out / "docker-compose.yaml"), "config"],
        capture_output=True, text=True, env={**os.environ, "HF_TOKEN": "x", "MY_HF_TOKEN": "x"},
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) <= {"server", "client", "rollout", "trainer"}
    if name == "gpu-ids-compose":
        env = resolved["services"]["server"]["environment"]
        assert env["PROMPT_PREFIX"] in ("cost: $5", "cost: $$5")  # v1 prints it re-escaped


def test_rerender_removes_stale_files_but_keeps_the_users(cli, tmp_path) -> None:
    out = tmp_path / "out"
    _render(cli, "seed-002-kubernetes", out)
    (out / "my-notes.yaml").write_text("kind: Note\n")
    result = cli("render", "bench", "-f", SEED, "--runtime", "kubernetes",
                 "--set", "runtime.kubernetes.create_namespace=false", "-o", str(out))
    assert result.exit_code == 0
    names = sorted(p.name for p in out.iterdir())
    assert "00-namespace.yaml" not in names
    assert "my-notes.yaml" in names
    assert not [n for n in names if n.endswith(".tmp")]


def test_compose_format_is_docker_only(cli) -> None:
    result = cli("render", "bench", "-f", SEED, "--runtime", "kubernetes", "--format", "compose")
    assert result.exit_code == 2
    # typer draws usage errors in a box: compare the words, not the wrapping.
    words = " ".join(result.stderr.replace("│", " ").split())
    assert "--format compose renders for --runtime docker only" in words


def test_local_render_maps_container_paths_to_the_host(cli, tmp_path) -> None:
    rendered = yaml.safe_load(_render(cli, "cpu-tiny-local", tmp_path / "a")["local.yaml"])
    state = "/home/tester/.local/state/orchestrator/local/cpu-tiny"
    assert rendered["state_dir"] == state
    server, client = rendered["processes"]
    assert server["argv"][:3] == ["vllm", "serve", "/models/tiny-qwen2"] and server["port"] == 8000
    assert client["env"]["VLLM_SERVER_URL"] == "http://127.0.0.1:8000"
    assert client["env"]["RESULTS_DIR"] == f"{state}/client/results"
    assert server["env"]["CUDA_VISIBLE_DEVICES"] == ""
    train = yaml.safe_load(_render(cli, "gpu-train-local", tmp_path / "b")["local.yaml"])
    rollout, trainer = train["processes"]
    assert (rollout["env"]["CUDA_VISIBLE_DEVICES"], trainer["env"]["CUDA_VISIBLE_DEVICES"]) == ("0", "1")
    assert trainer["argv"][1] == str(data_dir("container_scripts") / "train_grpo.py")
    assert trainer["argv"][trainer["argv"].index("--vllm-server-url") + 1] == "http://127.0.0.1:8000"
    out = trainer["argv"][trainer["argv"].index("--output-dir") + 1]
    assert out == "/home/tester/.local/state/orchestrator/local/qwen-grpo/trainer/output"
    assert rollout["env"]["HF_TOKEN"] == "${HF_TOKEN}"  # a reference, never the value


def test_train_stack_on_kubernetes_is_a_deployment_a_service_and_a_job(cli, tmp_path) -> None:
    files = _render(cli, "gpu-train-kubernetes", tmp_path / "out")
    assert list(files) == ["10-scripts-configmap.yaml", "50-rollout-deployment.yaml",
                           "51-rollout-service.yaml", "60-trainer-job.yaml"]
    by_kind = {o["kind"]: o for o in _objects(files)}
    rollout = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert rollout["name"] == "rollout" and rollout["command"][:2] == ["trl", "vllm-serve"]
    assert rollout["startupProbe"]["httpGet"]["path"] == "/health"
    assert rollout["resources"]["limits"]["nvidia.com/gpu"] == 1
    job = by_kind["Job"]["spec"]
    assert job["backoffLimit"] == 0 and job["completions"] == 1 and "completionMode" not in job
    trainer = job["template"]["spec"]["containers"][0]
    url = trainer["command"][trainer["command"].index("--vllm-server-url") + 1]
    service = by_kind["Service"]
    assert url == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    assert {"name": "weight-sync", "containerPort": 51216} in trainer["ports"]
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == 1
    labels = job["template"]["metadata"]["labels"]
    assert labels["orchestrator.component"] == "trainer"  # what ps, logs and down select by


def test_multi_node_trainer_is_an_indexed_job_with_a_headless_service(cli, tmp_path) -> None:
    files = _render(cli, "multinode-train-kubernetes", tmp_path / "out")
    objects = _objects(files)
    job = next(o for o in objects if o["kind"] == "Job")
    headless = next(o for o in objects if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 2
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == headless["metadata"]["name"]
    assert headless["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    assert headless["spec"]["publishNotReadyAddresses"] is True
    container = pod["containers"][0]
    command = container["command"]
    rank = next(e for e in container["env"] if e["name"] == "NODE_RANK")
    assert rank["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']")
    assert command[command.index("--node-rank") + 1] == "$(NODE_RANK)"
    # torchrun's rendezvous is pod 0's DNS name through the headless Service.
    master = command[command.index("--master-addr") + 1]
    assert master == f"{job['metadata']['name']}-0.{headless['metadata']['name']}"
    assert command[command.index("--master-port") + 1] == str(headless["spec"]["ports"][0]["port"])
    assert command[command.index("--nproc-per-node") + 1] == "8"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["output"]["persistentVolumeClaim"] == {"claimName": "grpo-output"}
    assert volumes["model-cache"]["persistentVolumeClaim"] == {"claimName": "hf-cache"}


def test_compose_starts_the_trainer_after_the_rollout_is_healthy(cli, tmp_path) -> None:
    compose = _objects(_render(cli, "gpu-train-compose", tmp_path / "out"))[0]
    trainer = compose["services"]["trainer"]
    assert trainer["depends_on"] == {"rollout": {"condition": "service_healthy"}}
    devices = {role: compose["services"][role]["deploy"]["resources"]["reservations"]["devices"][0]
               ["device_ids"] for role in ("rollout", "trainer")}
    assert devices == {"rollout": ["0"], "trainer": ["1"]}
