"""The user's dataset file: checked before anything starts (the bad-config corpus holds the
one-line refusals of bad files), and carried to the client by each runtime's render."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.config import load_config
from orchestrator.config.dataset_files import MAX_DATASET_BYTES, check_dataset_file
from orchestrator.plan import build_bench_plan
from orchestrator.runtime.docker.render import bind_mounts
from orchestrator.runtime.local.processes import describe_process
from orchestrator.stacks.bench_process import bench_argv, workload_json

CONVERSATIONS = "examples/data/trajectories.jsonl"
PROMPTS = "examples/data/prompts.jsonl"


def test_the_shipped_files_are_valid_datasets() -> None:
    assert check_dataset_file("conversations", CONVERSATIONS).records == 16
    assert check_dataset_file("custom", PROMPTS).records == 23


def test_a_sharegpt_file_counts_records_with_a_prompt_and_a_reply(tmp_path: Path) -> None:
    path = tmp_path / "share.json"
    turns = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]
    path.write_text(json.dumps([{"conversations": turns}, {"conversations": turns[:1]}], indent=2))
    assert check_dataset_file("sharegpt", str(path)).records == 1


def test_a_file_above_the_limit_is_refused_without_reading_it(cli, tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    with big.open("wb") as handle:  # sparse: no disk used, and never read
        handle.truncate(MAX_DATASET_BYTES + 1)
    result = cli("validate", "-f", "examples/cpu-tiny.yaml", "--set", "workload.dataset=custom",
                 "--set", f"workload.dataset_path={big}")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --set workload.dataset_path=")
    assert result.stderr.endswith(f": workload.dataset_path: {big} is 268,435,457 bytes, above"
                                  " the 256 MiB a dataset may be; take a sample of its records\n")
    assert result.stderr.count("\n") == 1


def test_kubernetes_refuses_a_file_a_configmap_cannot_hold_unless_a_volume_has_it(
        cli, tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    line = json.dumps({"prompt": "x" * 1000}) + "\n"
    path.write_text(line * 1100)  # 1.1 MB
    args = ["validate", "-f", "examples/cpu-tiny.yaml", "--runtime", "kubernetes", "--set",
            "workload.dataset=custom", "--set", f"workload.dataset_path={path}"]
    refused = cli(*args)
    assert refused.exit_code == 1
    assert "above the 1 MiB a ConfigMap holds; put it on a PersistentVolumeClaim" in refused.stderr
    assert cli(*args, "--set", "runtime.kubernetes.dataset_host_path=/data").exit_code == 0
    assert cli(*args, "--runtime", "docker").exit_code == 0


def test_docker_mounts_the_file_read_only_and_local_reads_it_where_it_is() -> None:
    loaded = load_config(Path("examples/cpu-conversations.yaml"))
    plan = build_bench_plan(loaded.spec, loaded.project)
    client = plan.component("client")
    host = str(Path(CONVERSATIONS).absolute())
    assert (host, "/datasets/trajectories.jsonl", True) in bind_mounts(client)
    process = describe_process(plan, client, Path("/tmp/state"))
    assert process.to_host("/datasets/trajectories.jsonl") == host


def test_the_replay_reads_the_file_where_the_client_sees_it() -> None:
    loaded = load_config(Path("examples/cpu-conversations.yaml"))
    data = json.loads(workload_json(loaded.spec.workload, []))
    assert data["conversations"] == {"replay": "recorded", "output_len": 16}
    assert "--dataset-name" not in data["flags"]  # vLLM's own datasets are not involved
    matrix = loaded.matrix
    assert matrix is not None
    variant = matrix.variants[0]
    argv = bench_argv(loaded.spec, build_bench_plan(loaded.spec, loaded.project, "run"), variant,
                      matrix.points(variant), None)
    # Its own argv item, so that the local runtime can map the path to the host's file.
    assert argv[-2:] == ["--dataset-path", "/datasets/trajectories.jsonl"]
