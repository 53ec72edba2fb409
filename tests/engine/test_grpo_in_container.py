"""container_scripts/train_grpo.py for real: TRL's GRPOTrainer on the CPU image's tiny model."""

from __future__ import annotations

import csv
import subprocess

from conftest import REPO
from orchestrator.analysis.rollouts import analyze

from .conftest import TEST_ENV


def test_grpo_trains_in_the_cpu_image(cpu_image, tmp_path) -> None:
    env = [f"--env={k}={v}" for k, v in TEST_ENV.items()]
    result = subprocess.run(
        ["docker", "run", "--rm", *env, "--shm-size=1g",
         "-v", f"{REPO / 'container_scripts'}:/opt/orchestrator/scripts:ro",
         "-v", f"{tmp_path}:/out", cpu_image,
         "python3", "/opt/orchestrator/scripts/train_grpo.py", "--model", "/models/tiny-qwen2",
         "--max-steps", "3", "--max-completion-length", "32", "--length-target-words", "4",
         "--learning-rate", "1e-4", "--output-dir", "/out/run", "--log-raw-output"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "run"
    with (out / "metrics.csv").open() as handle:
        steps = [row for row in csv.DictReader(handle) if row.get("loss")]
    assert [int(row["step"]) for row in steps] == [1, 2, 3]
    assert all(row["reward"] and row["grad_norm"] for row in steps)
    assert any(float(row["reward_std"]) > 0 for row in steps)  # a real learning signal
    assert (out / "final" / "model.safetensors").stat().st_size > 1_000_000
    report = analyze(out / "rollouts.log")
    assert report.turns == 3 and report.unparsed == []
    assert "LLM Generation:" in result.stdout
