"""Loading a config: layers and their order, project names, redaction and the JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import EXAMPLES
from orchestrator.config import load_config
from orchestrator.config.model import StackSpec
from orchestrator.errors import ConfigError

SEED = EXAMPLES / "seed-002-gpt-oss-120b.yaml"
TINY = EXAMPLES / "cpu-tiny.yaml"


def test_examples_load() -> None:
    seed = load_config(SEED, environ={})
    assert seed.project == "seed-002"
    assert seed.spec.server.gpu_count == 4
    assert seed.spec.workload.concurrency_points == [1, 2, 4, 8, 16, 32]
    tiny = load_config(TINY, environ={})
    assert tiny.spec.server.gpu_count == 0
    assert tiny.spec.workload.input_len + tiny.spec.workload.output_len <= 512


def test_seed_context_is_accepted_at_256_plus_128() -> None:
    loaded = load_config(
        SEED, sets=["workload.input_len=256", "workload.output_len=128"], environ={}
    )
    assert loaded.spec.server.max_model_len == 896


def test_layers_apply_file_then_env_then_set() -> None:
    file_only = load_config(SEED, environ={})
    assert file_only.spec.workload.num_prompts == 20
    from_env = load_config(SEED, environ={"NUM_PROMPTS": "30", "MODEL": "Qwen/Qwen2.5-7B"})
    assert from_env.spec.workload.num_prompts == 30
    assert from_env.spec.server.model == "Qwen/Qwen2.5-7B"
    both = load_config(SEED, sets=["workload.num_prompts=40"], environ={"NUM_PROMPTS": "30"})
    assert both.spec.workload.num_prompts == 40


def test_seed_env_names_map_to_fields() -> None:
    env = {
        "INPUT_LEN": "100",
        "OUTPUT_LEN": "50",
        "NUM_PROMPTS": "7",
        "MODEL": "123",  # a model name is text even when it looks like a number
        "VLLM_SERVER_URL": "http://gpu-box:8000",
    }
    spec = load_config(SEED, environ=env).spec
    assert (spec.workload.input_len, spec.workload.output_len) == (100, 50)
    assert spec.workload.num_prompts == 7
    assert spec.server.model == "123"
    assert spec.client.server_url == "http://gpu-box:8000"


def test_set_values_are_yaml() -> None:
    spec = load_config(
        TINY,
        sets=[
            "workload.concurrency=[1,4,8]",
            "server.extra_args=['--seed', '3']",
            "workload.concurrency={min: 2, max: 8, step: 3}",
            "server.served_model_name=null",
        ],
        environ={},
    ).spec
    assert spec.workload.concurrency_points == [2, 5, 8]
    assert spec.server.extra_args == ["--seed", "3"]
    assert spec.server.served_model_name is None


def test_set_creates_missing_sections() -> None:
    spec = load_config(TINY, sets=["runtime.kubernetes.namespace=bench"], environ={}).spec
    assert spec.runtime.kubernetes.namespace == "bench"


def test_runtime_override_acts_last() -> None:
    loaded = load_config(TINY, sets=["runtime.kind=local"], runtime="kubernetes", environ={})
    assert loaded.spec.runtime.kind == "kubernetes"


def test_env_values_accept_yaml_scalars(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  model: m\n  env: {LEVEL: 1, DEBUG: true, RATIO: 0.5}\n")
    assert load_config(config, environ={}).spec.server.env == {
        "LEVEL": "1",
        "DEBUG": "true",
        "RATIO": "0.5",
    }


def test_project_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "My Bench_Folder"
    folder.mkdir()
    config = folder / "orchestrator.yaml"
    config.write_text("server: {model: m}\n")
    assert load_config(config, environ={}).project == "my-bench-folder"
    config.write_text("name: named\nserver: {model: m}\n")
    assert load_config(config, environ={}).project == "named"
    assert load_config(config, project="cli-wins", environ={}).project == "cli-wins"
    with pytest.raises(ConfigError, match="-p 'Bad Name': a project name is lowercase"):
        load_config(config, project="Bad Name", environ={})


def test_default_file_is_found_in_the_working_folder(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "orchestrator.yaml").write_text("name: here\nserver: {model: m}\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}).project == "here"


def test_secrets_as_text_are_refused_without_showing_them(cli, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "server:\n  model: m\n  env: {MY_API_KEY: sk-live-123, HF_TOKEN: hf_abc, LEVEL: debug}\n"
        "client:\n  env: {WANDB_PASSWORD: pw-9}\n"
    )
    result = cli("config", "show", "-f", str(config), "--set", "server.port=9000")
    assert result.exit_code == 1 and result.stdout == ""
    for secret in ("sk-live-123", "hf_abc", "pw-9"):
        assert secret not in result.stderr
    assert "server.env.HF_TOKEN holds a secret as text; pass it by reference instead:" \
        " server.hf_token: {from_env: HF_TOKEN}" in result.stderr
    assert "client.env.WANDB_PASSWORD: {from_env: WANDB_PASSWORD}" in result.stderr


def test_config_show_keeps_secret_references(cli, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  model: m\n  env: {MY_API_KEY: {from_env: MY_KEY}, LEVEL: debug}\n")
    result = cli("config", "show", "-f", str(config))
    assert result.exit_code == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["server"]["env"]["LEVEL"] == "debug"
    assert shown["server"]["env"]["MY_API_KEY"]["from_env"] == "MY_KEY"


def test_schema_accepts_the_examples_and_rejects_unknown_keys(cli) -> None:
    result = cli("config", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == StackSpec.model_json_schema()
    for example in (SEED, TINY):
        jsonschema.validate(yaml.safe_load(example.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"server": {"model": "m", "prot": 1}}, schema)


def test_env_overrides_follow_the_sections_present() -> None:
    # MAX_TOKENS sets the trainer's completion length, and means nothing to a bench config.
    train = load_config(EXAMPLES / "gpu-train.yaml", environ={"MAX_TOKENS": "300"}).spec
    assert train.trainer and train.trainer.max_completion_length == 300
    bench = load_config(EXAMPLES / "cpu-tiny.yaml", environ={"MAX_TOKENS": "300"}).spec
    assert bench.trainer is None
    # MODEL names the model of whichever stack the config has.
    train = load_config(EXAMPLES / "cpu-train.yaml", environ={"MODEL": "/models/other"}).spec
    assert train.trainer and train.trainer.model == "/models/other" and train.server is None
    bench = load_config(EXAMPLES / "cpu-tiny.yaml", environ={"MODEL": "/models/other"}).spec
    assert bench.server and bench.server.model == "/models/other"


def test_secrets_in_trainer_env_are_refused_unseen(cli) -> None:
    result = cli("config", "show", "-f", "examples/cpu-train.yaml",
                 "--set", "trainer.env.WANDB_API_KEY=abc123")
    assert result.exit_code == 1
    assert "abc123" not in result.stderr
    assert result.stderr.startswith("error: --set trainer.env.WANDB_API_KEY=<redacted>:"
                                    " trainer.env.WANDB_API_KEY holds a secret as text")
