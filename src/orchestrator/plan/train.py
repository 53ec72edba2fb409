"""The train stack's plan: the rollout server (generation: server), then the GRPO trainer."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.fields import parse_size, plain_env, secret_env
from orchestrator.config.model import StackSpec
from orchestrator.config.trainer import Trainer
from orchestrator.errors import ConfigError
from orchestrator.names import Role, Stack
from orchestrator.plan.common import (
    cache_volume,
    component_labels,
    copy_limits_of,
    dataset_volume,
    health_probe,
    network_of,
    placement_of,
    project_labels,
    scope_of,
    service_host,
)
from orchestrator.plan.model import (
    QUIET_ENV,
    RENDEZVOUS_PORT,
    SCRIPTS_MOUNT,
    TRAIN_OUTPUT_DIR,
    Component,
    GpuRequest,
    Plan,
    Port,
    Volume,
    VolumeSource,
    dataset_mount_path,
)
from orchestrator.runtimes import traits

RESUME_MOUNT = "/root/resume"  # a resumed run's folder, read-only in the trainer


def build_train_plan(spec: StackSpec, project: str, run_id: str | None = None,
                     resume: Path | None = None) -> Plan:
    """Plan the train stack: the rollout server (generation: server), then the trainer; with
    `resume` (a checkpoint folder in a run folder on this machine), the trainer goes on from it."""
    trainer = spec.trainer
    if trainer is None:
        raise ConfigError(
            "the train stack needs a trainer section (the model and GRPO settings); add"
            " trainer: {model: ...}, or run `orchestrator up bench` for the server"
        )
    labels = project_labels(project, "train", run_id)
    rollout_gpus, trainer_gpus = split_gpus(trainer, pin=traits(spec.runtime.kind).pins_gpu_ids)
    components = []
    if trainer.rollout is not None:
        components.append(_rollout(spec, project, labels, rollout_gpus))
    rollout_url = (f"http://{service_host(spec, project, Role.rollout)}:{trainer.rollout.port}"
                   if trainer.rollout else None)
    components.append(_trainer(spec, project, labels, trainer_gpus, rollout_url, resume))
    return Plan(project=project, stack=Stack.train, network=network_of(spec, project), labels=labels,
                components=components, scope=scope_of(spec), placement=placement_of(spec),
                copy_limits=copy_limits_of(spec))


def split_gpus(trainer: Trainer, pin: bool) -> tuple[GpuRequest, GpuRequest]:
    """(rollout, trainer) GPU requests. With `pin` (one host: Docker, local), counts become ids
    laid side by side, rollout first, so that the two never land on the same GPU; Kubernetes
    hands each pod its own GPUs by count."""
    rollout = trainer.rollout
    asked = [(rollout.gpu_count, rollout.gpu_ids) if rollout else (0, None),
             (trainer.gpu_count, trainer.gpu_ids)]
    if not pin:
        return GpuRequest(count=asked[0][0]), GpuRequest(count=asked[1][0])
    taken = {gpu for _, ids in asked if ids for gpu in ids}
    requests = []
    for count, ids in asked:
        if ids is None and count:
            free = (gpu for gpu in range(len(taken) + count + 1) if gpu not in taken)
            ids = [next(free) for _ in range(count)]
            taken.update(ids)
        requests.append(GpuRequest(count=count, ids=tuple(ids) if ids else None))
    return requests[0], requests[1]


def rollout_argv(trainer: Trainer) -> list[str]:
    """The `trl vllm-serve` command line for the rollout server."""
    rollout = trainer.rollout
    assert rollout is not None
    argv = ["trl", "vllm-serve", "--model", trainer.model, "--host", "0.0.0.0",
            "--port", str(rollout.port),
            "--tensor-parallel-size", str(rollout.tensor_parallel_size),
            "--gpu-memory-utilization", str(rollout.gpu_memory_utilization),
            "--dtype", rollout.dtype]  # fmt: skip
    if rollout.max_model_len is not None:
        argv += ["--max-model-len", str(rollout.max_model_len)]
    if rollout.enforce_eager:
        argv.append("--enforce-eager")
    return argv + list(rollout.extra_args)


def trainer_argv(trainer: Trainer, project: str, rollout_url: str | None) -> list[str]:
    """The training command: train_grpo.py, under torchrun when it spans GPUs or nodes."""
    script = f"{SCRIPTS_MOUNT}/train_grpo.py"
    if trainer.nodes > 1:
        # Each pod of the indexed Job is one node; pod 0 hosts the rendezvous.
        name = f"{project}-{Role.trainer}"
        launcher = ["torchrun", "--nnodes", str(trainer.nodes),
                    "--nproc-per-node", str(max(trainer.gpu_count, 1)), "--node-rank", "$(NODE_RANK)",
                    "--master-addr", f"{name}-0.{name}", "--master-port", str(RENDEZVOUS_PORT)]
    elif trainer.gpu_count > 1 or trainer.generation == "colocate":
        # Colocated vLLM joins torch.distributed (its external launcher), even on one GPU.
        launcher = ["torchrun", "--standalone", "--nproc-per-node", str(trainer.gpu_count)]
    else:
        launcher = ["python3"]
    argv = [*launcher, script,
            "--model", trainer.model,
            "--dataset", (dataset_mount_path(trainer.dataset_path) if trainer.dataset_path
                          else trainer.dataset),
            *(arg for reward in trainer.rewards for arg in ("--reward", reward)),
            "--learning-rate", str(trainer.learning_rate),
            "--beta", str(trainer.beta),
            "--num-generations", str(trainer.num_generations),
            "--per-device-batch-size", str(trainer.per_device_batch_size),
            "--gradient-accumulation-steps", str(trainer.gradient_accumulation_steps),
            "--max-prompt-length", str(trainer.max_prompt_length),
            "--max-completion-length", str(trainer.max_completion_length),
            "--temperature", str(trainer.temperature),
            "--length-target-words", str(trainer.length_target_words),
            "--max-steps", str(trainer.max_steps),
            "--logging-steps", str(trainer.logging_steps),
            "--save-steps", str(trainer.save_steps),
            "--save-total-limit", str(trainer.save_total_limit),
            "--seed", str(trainer.seed),
            "--output-dir", TRAIN_OUTPUT_DIR,
            "--generation", trainer.generation]  # fmt: skip
    if trainer.rollout is not None and rollout_url:
        argv += ["--vllm-server-url", rollout_url,
                 "--vllm-group-port", str(trainer.rollout.group_port)]
    if trainer.log_raw_output:
        argv.append("--log-raw-output")
    if trainer.reward_keyword:
        argv += ["--keyword", trainer.reward_keyword]
    return argv


def _rollout(spec: StackSpec, project: str, labels: dict[str, str], gpus: GpuRequest) -> Component:
    trainer = spec.trainer
    assert trainer is not None and trainer.rollout is not None
    rollout = trainer.rollout
    return Component(
        role=Role.rollout,
        name=f"{project}-{Role.rollout}",
        image=rollout.image or trainer.image,
        argv=rollout_argv(trainer),
        env={**QUIET_ENV, **plain_env(rollout.env)},
        labels=component_labels(labels, Role.rollout),
        secret_env=secret_env(rollout.env, trainer.hf_token),
        gpus=gpus,
        ports=[Port("http", rollout.port, rollout.host_port or rollout.port)],
        probe=health_probe(rollout.port, rollout.startup_timeout),
        volumes=[cache_volume(spec, trainer.model_cache)],
        shm_size_bytes=parse_size(rollout.shm_size),
    )


def _trainer(spec: StackSpec, project: str, labels: dict[str, str], gpus: GpuRequest,
             rollout_url: str | None, resume: Path | None) -> Component:
    trainer = spec.trainer
    assert trainer is not None
    argv = trainer_argv(trainer, project, rollout_url)
    resumed = []
    if resume is not None:
        # The run folder, read-only: the checkpoint, and the rollouts.log of the steps before it.
        resumed.append(Volume(name="resume", mount_path=RESUME_MOUNT, source=VolumeSource.resume,
                              host_path=str(resume.parent.resolve()), read_only=True,
                              include=(resume.name, "rollouts.log")))
        argv += ["--resume-from", f"{RESUME_MOUNT}/{resume.name}"]
    ports = []
    if trainer.rollout is not None:
        # The trainer is rank 0 of the weight-sync group: the rollout server connects to it.
        ports.append(Port("weight-sync", trainer.rollout.group_port))
    if trainer.nodes > 1:
        ports.append(Port("rendezvous", RENDEZVOUS_PORT))
    output_claim = spec.runtime.kubernetes.train_output_pvc
    return Component(
        role=Role.trainer,
        name=f"{project}-{Role.trainer}",
        image=trainer.image,
        argv=argv,
        env={**QUIET_ENV, **plain_env(trainer.env)},
        labels=component_labels(labels, Role.trainer),
        secret_env=secret_env(trainer.env, trainer.hf_token),
        gpus=gpus,
        ports=ports,
        volumes=[
            Volume(name="scripts", mount_path=SCRIPTS_MOUNT, source=VolumeSource.scripts, read_only=True),
            Volume(name="output", mount_path=TRAIN_OUTPUT_DIR, source=VolumeSource.scratch,
                   claim=output_claim),
            cache_volume(spec, trainer.model_cache),
            *dataset_volume(spec, trainer.dataset_path),
            *resumed,
        ],
        shm_size_bytes=parse_size(trainer.shm_size),
        nodes=trainer.nodes,
    )
