"""From a validated spec to a runtime-agnostic plan: what to run, named and labelled.

The plan decides names, labels, argv lists, environment, GPUs, ports, probes, volumes, shared
memory and where on a cluster things go, once; the runtimes only translate it into their own
vocabulary, and need nothing else.
"""

from __future__ import annotations

from orchestrator.config.model import StackSpec
from orchestrator.names import Stack
from orchestrator.plan.bench import build_bench_plan, server_argv, server_url
from orchestrator.plan.common import project_labels, scope_of
from orchestrator.plan.model import (
    CLIENT_RESULTS_DIR,
    QUIET_ENV,
    RENDEZVOUS_PORT,
    SCRIPTS_MOUNT,
    TRAIN_OUTPUT_DIR,
    Component,
    CopyLimits,
    GpuRequest,
    HttpProbe,
    Placement,
    Plan,
    Port,
    Scope,
    Volume,
    VolumeSource,
)
from orchestrator.plan.train import build_train_plan, rollout_argv, split_gpus, trainer_argv

__all__ = [
    "CLIENT_RESULTS_DIR", "QUIET_ENV", "RENDEZVOUS_PORT", "SCRIPTS_MOUNT", "TRAIN_OUTPUT_DIR",
    "Component", "CopyLimits", "GpuRequest", "HttpProbe", "Placement", "Plan", "Port", "Scope", "Volume",
    "VolumeSource",
    "build_bench_plan", "build_plan", "build_train_plan", "project_labels", "rollout_argv",
    "scope_of", "server_argv", "server_url", "split_gpus", "trainer_argv",
]


def build_plan(stack: Stack, spec: StackSpec, project: str, run_id: str | None = None) -> Plan:
    """Plan the named stack."""
    if stack is Stack.train:
        return build_train_plan(spec, project, run_id)
    return build_bench_plan(spec, project, run_id)
