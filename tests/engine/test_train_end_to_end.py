"""`orchestrator up train` on the real engine: TRL's GRPOTrainer on the CPU image's tiny model,
its output collected home, and the faults that apply to training."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

from orchestrator.analysis.rollouts import analyze
from orchestrator.files import state_home

from .conftest import leftovers, read_json

CPU_TRAIN = "examples/cpu-train.yaml"
GPU_TRAIN = "examples/gpu-train.yaml"


def _metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return [row for row in csv.DictReader(handle) if row.get("loss")]


def _train(orch, project: str, *sets: str, flags: tuple[str, ...] = (), **kwargs):
    args = ["up", "train", "-f", CPU_TRAIN, "-p", project, *flags,
            "--set", f"trainer.results_dir={orch.results}"]
    for assignment in sets:
        args += ["--set", assignment]
    return orch(*args, **kwargs)


def test_up_train_on_cpu_end_to_end(orch, project) -> None:
    # The prompts and their answers from a file on this machine (a bind mount); exact_answer
    # reads the 'answer' column TRL hands each reward.
    result = _train(orch, project, "trainer.dataset_path=examples/data/grpo-questions.jsonl",
                    "trainer.rewards=[length_target, exact_answer]", env={"MAX_TOKENS": "24"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "LLM Generation:" in result.stdout  # the trainer's log was streamed
    (run,) = orch.runs()
    steps = _metrics(run)
    assert [int(row["step"]) for row in steps] == [1, 2, 3]
    assert all(row["reward"] and float(row["grad_norm"]) > 0 for row in steps)
    # A reward with variance (length_target): its mean moves from step to step.
    assert len({row["reward"] for row in steps}) > 1, steps
    assert all(row["rewards/exact_answer/mean"] for row in steps)
    assert read_json(run / "settings.json")["dataset"] == "/datasets/grpo-questions.jsonl"
    # MAX_TOKENS reached the trainer: no completion is longer.
    assert read_json(run / "settings.json")["max_completion_length"] == 24
    assert max(float(row["completions/max_length"]) for row in steps) <= 24
    assert (run / "final" / "model.safetensors").stat().st_size > 1_000_000
    assert (run / "final" / "config.json").exists()
    report = analyze(run / "rollouts.log")
    assert report.turns == 3 and report.unparsed == []
    # Each batch line says its longest completion, which MAX_TOKENS bounds.
    assert report.output_tokens["max"] <= 24
    page = (run / "report.html").read_text()
    markdown = (run / "report.md").read_text()
    assert page.count("data:image/png;base64,") == 2 and "| reward | 3 |" in markdown
    assert "## Learning signal" in markdown and "| 3 of 3 | " in markdown  # grad norm > 0
    assert f"report: {run / 'report.html'}" in result.stdout
    assert "train_grpo.py: done" in (run / "trainer.log").read_text()
    timings = read_json(run / "environment.json")["timings"]
    assert 0 < timings["train_s"] <= timings["total_s"]
    assert "step 3: loss" in result.stdout
    assert leftovers(project) == []


def test_trainer_failure_keeps_what_it_wrote(orch, project) -> None:
    result = _train(orch, project, "trainer.rewards=['no_such_module:reward']")
    assert result.returncode == 1
    (run,) = orch.runs()
    assert result.stderr.startswith(
        f"error: the trainer exited with code 1; its log is in {run / 'trainer.log'}")
    assert "cannot load reward 'no_such_module:reward'" in (run / "trainer.log").read_text()
    assert read_json(run / "settings.json")["rewards"] == ["no_such_module:reward"]
    assert "Traceback" not in result.stderr
    assert leftovers(project) == []


def test_detach_then_logs_follow_ps_and_down(orch, project) -> None:
    result = _train(orch, project, "trainer.max_steps=6", flags=("--detach",))
    assert result.returncode == 0, result.stderr
    assert f"orchestrator logs trainer -f -p {project}" in result.stdout
    names = orch("ps", "trainer", "-q", "-p", project).stdout.split()
    assert names == [f"{project}-trainer"]
    followed = orch("logs", "trainer", "-f", "-p", project, timeout=300)
    assert followed.returncode == 0
    assert followed.stdout.count("LLM Generation:") == 6
    assert followed.stdout.rstrip().endswith("final model in /root/train_output/final")
    # What the detached trainer wrote comes home on demand, as often as asked, into its run
    # folder (created by `up`), with its log and its report.
    (run,) = orch.runs()
    collected = orch("collect", "-p", project)
    assert collected.returncode == 0 and f"into {run}" in collected.stdout, collected.stderr
    assert [int(row["step"]) for row in _metrics(run)] == [1, 2, 3, 4, 5, 6]
    assert "train_grpo.py: done" in (run / "trainer.log").read_text()
    assert "## Learning signal" in (run / "report.md").read_text()
    assert orch("collect", "-p", project).returncode == 0  # safe to repeat
    # `down` brings the output home before removing anything; where it cannot (no run folder
    # on record), it refuses and removes nothing unless told --discard.
    record = state_home() / "trainers" / f"docker-{project}.json"
    aside = record.with_suffix(".aside")
    record.rename(aside)
    refused = orch("down", "-p", project)
    assert refused.returncode == 1 and "`orchestrator down --discard -p" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert leftovers(project) != []
    aside.rename(record)
    (run / "metrics.csv").unlink()
    down = orch("down", "-p", project)
    assert "brought the trainer's output home" in down.stdout and str(run) in down.stdout
    assert f"removed container {project}-trainer" in down.stdout
    assert len(_metrics(run)) == 6 and not record.exists()
    assert leftovers(project) == []


def test_sigint_during_training_keeps_the_steps_that_finished(orch, project) -> None:
    proc = orch.popen("up", "train", "-f", CPU_TRAIN, "-p", project,
                      "--set", f"trainer.results_dir={orch.results}",
                      "--set", "trainer.max_steps=5000")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        log = subprocess.run(["docker", "logs", f"{project}-trainer"], capture_output=True,
                             text=True).stdout
        if log.count("'loss'") >= 3:
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "error: interrupted; everything started was removed, the steps that finished are in" in stderr
    (run,) = orch.runs()
    assert 3 <= len(_metrics(run)) < 5000
    assert (run / "rollouts.log").exists()
    assert leftovers(project) == []


def _wait_for_log(name: str, text: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in subprocess.run(["docker", "logs", name], capture_output=True,
                                     text=True).stdout:
        assert time.monotonic() < deadline, f"{name} never logged {text!r}"
        time.sleep(0.3)


def test_a_killed_then_interrupted_run_resumes_from_its_checkpoints(orch, project) -> None:
    sets = ("--set", f"trainer.results_dir={orch.results}", "--set", "trainer.max_steps=6",
            "--set", "trainer.save_steps=1", "--set", "trainer.save_total_limit=2")
    # The trainer killed (as by the OOM killer) once checkpoint 2 is saved: `up` fails, and the
    # checkpoints are already home (each one as it was written).
    proc = orch.popen("up", "train", "-f", CPU_TRAIN, "-p", project, *sets)
    _wait_for_log(f"{project}-trainer", "checkpoint-2 saved")
    subprocess.run(["docker", "kill", f"{project}-trainer"], check=True, capture_output=True)
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1 and "the trainer exited with code 137" in stderr, stderr
    (run,) = orch.runs()
    assert (run / "checkpoint-2" / "trainer_state.json").exists()
    # Resumed from the last checkpoint home, then Ctrl-C once checkpoint 4 is saved.
    proc = orch.popen("up", "train", "-p", project, "--resume", str(run))
    _wait_for_log(f"{project}-trainer", "checkpoint-4 saved")
    proc.send_signal(signal.SIGINT)
    out, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 130, stderr
    assert "going on from checkpoint-" in out
    # Resumed again: on from checkpoint 4 to the end, in the same folder.
    again = orch("up", "train", "-p", project, "--resume", str(run))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "going on from checkpoint-4" in again.stdout
    assert orch.runs() == [run]
    assert [int(row["step"]) for row in _metrics(run)] == [1, 2, 3, 4, 5, 6]
    assert read_json(run / "settings.json")["resume_from"] == "/root/resume/checkpoint-4"
    # save_total_limit: 2 at home too; the final model is there.
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-5", "checkpoint-6"]
    assert (run / "final" / "model.safetensors").exists()
    assert leftovers(project) == []
    # No checkpoint to go on from: refused in one line, nothing started.
    bare = orch.results / "bare"
    bare.mkdir()
    (bare / "config.yaml").write_text((run / "config.yaml").read_text())
    refused = orch("up", "train", "-p", project, "--resume", str(bare))
    assert refused.returncode == 1 and "no checkpoint there" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert leftovers(project) == []


def test_gpu_stack_on_a_host_without_gpus(orch, project, cpu_image) -> None:
    """The GPU example here: Docker cannot give the rollout server a GPU; the trainer was never
    created, the message says why, and nothing is left."""
    result = orch("up", "train", "-f", GPU_TRAIN, "-p", project,
                  "--set", f"trainer.image={cpu_image}", "--set", "trainer.hf_token=null",
                  "--set", "trainer.model_cache.host_path=null",
                  "--set", f"trainer.results_dir={orch.results}")
    assert result.returncode == 1
    line = result.stderr.splitlines()[0]
    assert line.startswith("error: Docker refused to start the stack:")
    assert "install the NVIDIA Container Toolkit" in line
    assert "trainer" not in result.stdout
    assert leftovers(project) == []


def test_gpu_dockerfile_builds_on_a_stand_in_base(cpu_image) -> None:
    """images/gpu/Dockerfile built FROM the CPU image instead of the official one (no registry
    here): its paths, its TRL pins (already satisfied there) and the scripts it copies."""
    repo = Path(__file__).resolve().parents[2]
    tag = "orchestrator-gpu-dockerfile-check:test"
    build = subprocess.run(
        ["docker", "build", "-q", "--build-arg", f"VLLM_IMAGE={cpu_image}", "-t", tag,
         "-f", str(repo / "images" / "gpu" / "Dockerfile"), str(repo)],
        capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    try:
        assert build.returncode == 0, build.stderr[-2000:]
        probe = subprocess.run(
            ["docker", "run", "--rm", tag, "python3", "-c",
             "import os, trl; print(trl.__version__, sorted(os.listdir('/opt/orchestrator/scripts')))"],
            capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr[-2000:]
        assert probe.stdout.split()[0] == "1.16.0"
        assert "'train_grpo.py'" in probe.stdout and "'run_benchmark.sh'" in probe.stdout
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
