"""The plan: names, labels, argv lists, env, GPUs, ports, probes, volumes, shm."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES
from orchestrator.config import load_config
from orchestrator.errors import ConfigError
from orchestrator.names import Stack
from orchestrator.plan import build_bench_plan, build_plan, build_train_plan
from orchestrator.runtime.kubernetes.render import render_kubernetes


def _plan(path, sets=(), project=None, run_id=None):
    loaded = load_config(path, sets=sets, project=project, environ={})
    return build_bench_plan(loaded.spec, loaded.project, run_id)


def test_seed_server_command_is_an_argv_list() -> None:
    server = _plan(EXAMPLES / "seed-002-gpt-oss-120b.yaml").component("server")
    assert server.argv == [
        "vllm", "serve", "openai/gpt-oss-120b", "--host", "0.0.0.0", "--port", "8000",
        "--tensor-parallel-size", "4", "--pipeline-parallel-size", "1",
        "--max-model-len", "896", "--gpu-memory-utilization", "0.8",
        "--dtype", "bfloat16", "--enforce-eager",
    ]  # fmt: skip
    assert server.gpus.count == 4 and server.gpus.ids is None
    assert server.shm_size_bytes == 16 * 1024**3
    assert server.probe and server.probe.path == "/health"
    assert server.probe.startup_budget_s == 1800
    assert [(p.container_port, p.host_port) for p in server.ports] == [(8000, 8000)]


def test_user_strings_stay_single_arguments() -> None:
    server = _plan(
        EXAMPLES / "cpu-tiny.yaml",
        sets=["server.model='/models/my model; rm -rf /'", "server.extra_args=['--chat-template', 'a b']"],
    ).component("server")
    assert "/models/my model; rm -rf /" in server.argv
    assert server.argv[-2:] == ["--chat-template", "a b"]


def test_names_and_labels_carry_the_project() -> None:
    plan = _plan(EXAMPLES / "cpu-tiny.yaml", project="other", run_id="20261124-000000-ab12")
    assert [c.name for c in plan.components] == ["other-server", "other-client"]
    assert plan.network == "other-net"
    for component in plan.components:
        assert component.labels == {
            "orchestrator.project": "other",
            "orchestrator.stack": "bench",
            "orchestrator.run": "20261124-000000-ab12",
            "orchestrator.component": component.role,
        }


def test_cpu_server_asks_for_no_gpu_and_no_gpu_memory() -> None:
    server = _plan(EXAMPLES / "cpu-tiny.yaml").component("server")
    assert server.gpus.count == 0
    assert "--gpu-memory-utilization" not in server.argv
    assert server.env["HF_HUB_OFFLINE"] == "1"
    assert server.secret_env == {}


def test_gpu_ids_and_parallelism() -> None:
    server = _plan(
        EXAMPLES / "seed-002-gpt-oss-120b.yaml",
        sets=["server.gpus=[4,5,6,7]", "server.tensor_parallel_size=2",
              "server.pipeline_parallel_size=2"],
    ).component("server")
    assert server.gpus.ids == (4, 5, 6, 7)
    assert server.argv[server.argv.index("--pipeline-parallel-size") + 1] == "2"


def test_client_env_reproduces_the_workload() -> None:
    client = _plan(EXAMPLES / "cpu-tiny.yaml").component("client")
    assert client.argv == ["sleep", "infinity"]
    assert client.env["VLLM_SERVER_URL"] == "http://cpu-tiny-server:8000"
    assert client.env["MODEL"] == "tiny-qwen2"
    assert client.env["TOKENIZER"] == "/models/tiny-qwen2"
    assert (client.env["INPUT_LEN"], client.env["OUTPUT_LEN"], client.env["NUM_PROMPTS"]) == (
        "64", "32", "20",
    )
    assert client.image == "orchestrator-vllm-cpu:local"


def test_model_cache_host_path_is_expanded() -> None:
    server = _plan(EXAMPLES / "seed-002-gpt-oss-120b.yaml").component("server")
    cache = next(v for v in server.volumes if v.source == "model-cache")
    assert cache.host_path == "/home/tester/.cache/huggingface"


def test_external_server_url_plans_no_server() -> None:
    plan = _plan(EXAMPLES / "cpu-tiny.yaml", sets=["client.server_url=http://10.0.0.5:8000"])
    assert [c.role for c in plan.components] == ["client"]
    assert plan.component("client").env["VLLM_SERVER_URL"] == "http://10.0.0.5:8000"


def test_train_stack_needs_a_trainer() -> None:
    loaded = load_config(EXAMPLES / "cpu-tiny.yaml", environ={})
    with pytest.raises(ConfigError, match="the train stack needs a trainer section"):
        build_plan(Stack.train, loaded.spec, loaded.project)


def _train(path, sets=(), environ=None):
    loaded = load_config(path, sets=sets, environ=environ or {})
    return build_train_plan(loaded.spec, loaded.project, "run-1")


def test_gpu_train_plan_pairs_rollout_and_trainer() -> None:
    plan = _train(EXAMPLES / "gpu-train.yaml")
    assert [c.role for c in plan.components] == ["rollout", "trainer"]  # start order
    rollout, trainer = plan.components
    assert rollout.argv == [
        "trl", "vllm-serve", "--model", "Qwen/Qwen2.5-0.5B-Instruct", "--host", "0.0.0.0",
        "--port", "8000", "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.85",
        "--dtype", "auto", "--max-model-len", "1024",
    ]  # fmt: skip
    assert rollout.probe and rollout.probe.path == "/health" and rollout.served_model is None
    assert rollout.gpus.ids == (0,) and trainer.gpus.ids == (1,)
    assert trainer.argv[:2] == ["python3", "/opt/orchestrator/scripts/train_grpo.py"]
    flags = dict(zip(trainer.argv[2::2], trainer.argv[3::2], strict=False))
    assert flags["--vllm-server-url"] == "http://qwen-grpo-rollout:8000"
    assert flags["--vllm-group-port"] == "51216" and flags["--generation"] == "server"
    assert flags["--max-completion-length"] == "512" and flags["--output-dir"] == "/root/train_output"
    assert [(p.name, p.container_port, p.host_port) for p in trainer.ports] == [
        ("weight-sync", 51216, None)]
    assert trainer.labels["orchestrator.run"] == "run-1" and plan.stack == "train"


def test_max_tokens_sets_the_completion_length() -> None:
    trainer = _train(EXAMPLES / "gpu-train.yaml", environ={"MAX_TOKENS": "256"}).component("trainer")
    assert trainer.argv[trainer.argv.index("--max-completion-length") + 1] == "256"


def test_gpu_counts_are_laid_side_by_side_on_one_host() -> None:
    sets = ["trainer.gpus=2", "trainer.rollout.gpus=2", "trainer.rollout.tensor_parallel_size=2"]
    plan = _train(EXAMPLES / "gpu-train.yaml", sets)
    assert plan.component("rollout").gpus.ids == (0, 1)
    assert plan.component("trainer").gpus.ids == (2, 3)
    assert plan.component("trainer").argv[:4] == ["torchrun", "--standalone", "--nproc-per-node", "2"]
    # An id list for one side: the count takes the lowest ids the other does not use.
    plan = _train(EXAMPLES / "gpu-train.yaml", ["trainer.gpus=1", "trainer.rollout.gpus=[0]"])
    assert plan.component("trainer").gpus.ids == (1,)
    plan = _train(EXAMPLES / "gpu-train.yaml", ["trainer.gpus=[0]", "trainer.rollout.gpus=1"])
    assert plan.component("rollout").gpus.ids == (1,)


def test_kubernetes_gets_counts_and_multi_node_gets_torchrun() -> None:
    sets = ["runtime.kind=kubernetes", "trainer.gpus=8", "trainer.nodes=2", "trainer.rollout.gpus=1",
            "trainer.per_device_batch_size=8"]
    trainer = _train(EXAMPLES / "gpu-train.yaml", sets).component("trainer")
    assert trainer.gpus.count == 8 and trainer.gpus.ids is None and trainer.nodes == 2
    assert trainer.argv[:13] == [
        "torchrun", "--nnodes", "2", "--nproc-per-node", "8", "--node-rank", "$(NODE_RANK)",
        "--master-addr", "qwen-grpo-trainer-0.qwen-grpo-trainer", "--master-port", "29500",
        "/opt/orchestrator/scripts/train_grpo.py", "--model",
    ]  # fmt: skip
    assert ("rendezvous", 29500) in [(p.name, p.container_port) for p in trainer.ports]


def test_cpu_train_plan_is_the_trainer_alone() -> None:
    plan = _train(EXAMPLES / "cpu-train.yaml")
    assert [c.role for c in plan.components] == ["trainer"]
    trainer = plan.component("trainer")
    assert trainer.gpus.count == 0 and "--vllm-server-url" not in trainer.argv
    assert trainer.env["VLLM_NO_USAGE_STATS"] == "1"


def test_colocated_vllm_runs_under_torchrun_even_on_one_gpu() -> None:
    sets = ["trainer.generation=colocate", "trainer.rollout=null", "trainer.gpus=[0]"]
    trainer = _train(EXAMPLES / "gpu-train-local.yaml", sets).component("trainer")
    assert trainer.argv[:4] == ["torchrun", "--standalone", "--nproc-per-node", "1"]
    assert trainer.gpus.ids == (0,) and "--vllm-server-url" not in trainer.argv


def test_a_resumed_trainer_mounts_its_run_folder_where_files_are_mounted(tmp_path) -> None:
    checkpoint = tmp_path / "20261204-101500-ab12" / "checkpoint-4"
    loaded = load_config(EXAMPLES / "cpu-train.yaml", environ={})
    trainer = build_train_plan(loaded.spec, loaded.project, "r", resume=checkpoint).component(
        "trainer")
    assert trainer.argv[-2:] == ["--resume-from", "/root/resume/checkpoint-4"]
    (volume,) = [v for v in trainer.volumes if v.source == "resume"]
    assert (volume.host_path, volume.mount_path, volume.read_only) == (
        str(checkpoint.parent), "/root/resume", True)
    # A pod cannot mount this machine's folder: an init container holds an emptyDir open until
    # the checkpoint and rollouts.log are sent into it, and the trainer reads it read-only.
    assert volume.include == ("checkpoint-4", "rollouts.log")
    on_k8s = load_config(EXAMPLES / "cpu-train.yaml", ["runtime.kind=kubernetes"], environ={})
    plan = build_train_plan(on_k8s.spec, on_k8s.project, "r", resume=checkpoint)
    (job,) = [o for objs in render_kubernetes(plan).values() for o in objs if o["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"] == ["sh", "/opt/orchestrator/scripts/await_upload.sh", "/root/resume",
                               "900"]
    assert {"name": "resume", "mountPath": "/root/resume"} in init["volumeMounts"]
    assert {"name": "resume", "mountPath": "/root/resume", "readOnly": True} in \
        pod["containers"][0]["volumeMounts"]
    assert {"name": "resume", "emptyDir": {}} in pod["volumes"]
