"""No secret in any rendered file or output: a token planted in the operator's environment and
passed by reference never shows up in what orchestrator renders or writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.secrets import is_secret_name

PLANTED = "hf_PlantedPlantedPlanted0123456789abcd"
OTHER = "planted-wandb-key-0123456789"
CONFIG = """
name: secret-probe
server:
  model: /models/tiny-qwen2
  served_model_name: tiny
  gpus: 0
  max_model_len: 512
  image: orchestrator-vllm-cpu:local
  env:
    WANDB_API_KEY: {from_env: WANDB_KEY, k8s_secret: wandb, k8s_key: key}
client:
  env:
    CLIENT_TOKEN: {from_env: WANDB_KEY, k8s_secret: wandb, k8s_key: key}
workload: {input_len: 64, output_len: 32, concurrency: [1]}
trainer:
  model: /models/tiny-qwen2
  gpus: 1
  env:
    WANDB_API_KEY: {from_env: WANDB_KEY}
  rollout:
    gpus: 1
    env:
      ROLLOUT_TOKEN: {from_env: WANDB_KEY}
"""
RENDERS = [
    ("bench", ["--runtime", "docker"]),
    ("bench", ["--runtime", "docker", "--format", "compose"]),
    ("bench", ["--runtime", "kubernetes"]),
    ("bench", ["--runtime", "local"]),
    ("train", ["--runtime", "docker"]),
    ("train", ["--runtime", "docker", "--format", "compose"]),
    ("train", ["--runtime", "kubernetes", "--set", "trainer.gpus=1"]),
    ("train", ["--runtime", "local"]),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    monkeypatch.setenv("WANDB_KEY", OTHER)
    path = tmp_path / "secret.yaml"
    path.write_text(CONFIG)
    return path


def hits(folder: Path) -> list[str]:
    """Files under `folder` that hold a planted secret."""
    return [str(p) for p in folder.rglob("*") if p.is_file()
            and (PLANTED.encode() in p.read_bytes() or OTHER.encode() in p.read_bytes())]


@pytest.mark.parametrize(("stack", "args"), RENDERS, ids=[f"{s}-{' '.join(a[1::2])}" for s, a in RENDERS])
def test_no_renderer_writes_a_secret(cli, config: Path, tmp_path: Path, stack: str, args: list[str]) -> None:
    printed = cli("render", stack, "-f", str(config), *args)
    assert printed.exit_code == 0, printed.stderr
    assert PLANTED not in printed.stdout and OTHER not in printed.stdout
    out = tmp_path / "out"
    written = cli("render", stack, "-f", str(config), *args, "-o", str(out))
    assert written.exit_code == 0, written.stderr
    assert hits(out) == []
    # The references are there, by name.
    text = "".join(p.read_text() for p in out.iterdir())
    assert "WANDB_KEY" in text or "secretKeyRef" in text


def test_references_reach_the_manifests_as_secret_key_refs(cli, config: Path) -> None:
    printed = cli("render", "bench", "-f", str(config), "--runtime", "kubernetes").stdout
    assert "name: WANDB_API_KEY\n          valueFrom:\n            secretKeyRef:\n" \
           "              name: wandb\n              key: key" in printed


def test_secret_objects_only_when_asked(cli, config: Path) -> None:
    plain = cli("render", "bench", "-f", str(config), "--runtime", "kubernetes")
    assert "kind: Secret" not in plain.stdout and PLANTED not in plain.stdout
    asked = cli("render", "bench", "-f", str(config), "--runtime", "kubernetes", "--with-secrets")
    assert asked.exit_code == 0, asked.stderr
    assert "kind: Secret" in asked.stdout and f"token: {PLANTED}" in asked.stdout
    assert f"key: {OTHER}" in asked.stdout  # the wandb Secret, from WANDB_KEY
    refused = cli("render", "bench", "-f", str(config), "--runtime", "docker", "--with-secrets")
    assert refused.exit_code == 2 and "--with-secrets is for" in " ".join(refused.stderr.split())


@pytest.mark.parametrize(("name", "secret"), [
    ("HF_TOKEN", True), ("hf_token", True), ("--hf-token", True), ("NGROK_AUTHTOKEN", True),
    ("API_KEY", True), ("DB_PASSWORD", True), ("AWS_SECRET_ACCESS_KEY", True),
    ("MAX_TOKENS", False), ("TOKENIZERS_PARALLELISM", False), ("TIKTOKEN_ENCODINGS_BASE", False),
    ("--max-num-batched-tokens", False), ("TIKTOKEN_RS_CACHE_DIR", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
