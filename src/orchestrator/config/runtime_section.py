"""The config's `runtime:` section: which runtime runs the stacks, and each runtime's own
settings (Kubernetes namespace, scheduling and results copy; Docker network)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from orchestrator.config.fields import (
    DNS_LABEL,
    INT32_MAX,
    Section,
    parse_size,
)
from orchestrator.runtimes import KINDS

_NETWORK = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class Toleration(Section):
    """A Kubernetes toleration, as in a pod spec."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = None


class KubernetesSettings(Section):
    """Settings used when runtime.kind is kubernetes."""

    namespace: str = "default"
    create_namespace: bool = False
    context: str | None = Field(None, description="kubeconfig context; default: current.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    model_cache_pvc: str | None = Field(
        None, description="An existing PersistentVolumeClaim for the model cache (preferred)."
    )
    model_cache_host_path: str | None = Field(
        None, description="A node folder for the model cache; with neither, an emptyDir."
    )
    compile_cache_pvc: str | None = Field(
        None, description="An existing PersistentVolumeClaim for vLLM's compile cache (warm"
        " restarts); with none, compile_cache_host_path, else an emptyDir.")
    compile_cache_host_path: str | None = Field(
        None, description="A node folder for vLLM's compile cache.")
    dataset_pvc: str | None = Field(
        None, description="An existing PersistentVolumeClaim holding workload.dataset_path's"
        " file under its base name; for a dataset above the 1 MiB a ConfigMap holds.")
    dataset_host_path: str | None = Field(
        None, description="A node folder holding workload.dataset_path's file under its base"
        " name (a single-node cluster, or a folder every node has).")
    train_output_pvc: str | None = Field(
        None, description="An existing PersistentVolumeClaim for the trainer's output (the"
        " model, metrics); with none, an emptyDir that goes with the pod."
    )

    @field_validator("model_cache_host_path", "compile_cache_host_path", "dataset_host_path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be an absolute path on the node, such as /data/hf-cache")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace_is_dns_label(cls, value: str) -> str:
        if not DNS_LABEL.match(value) or len(value) > 63:
            raise ValueError(
                "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"
            )
        return value


class DockerSettings(Section):
    """Settings used when runtime.kind is docker."""

    network: str | None = Field(None, description="Bridge network; default '<project>-net'.")

    @field_validator("network")
    @classmethod
    def _network_name(cls, value: str | None) -> str | None:
        if value is not None and (not _NETWORK.match(value) or len(value) > 128):
            raise ValueError("is not a name Docker accepts: letters, digits, '_', '.' and '-',"
                             " starting with a letter or digit")
        return value


def _size_text(value: str) -> str:
    parse_size(value)
    return value


class ResultsCopy(Section):
    """The most a copy of results from a component may bring home (a guard against a
    component that sends back a huge or malicious archive)."""

    max_file: Annotated[str, AfterValidator(_size_text)] = Field("2g", description="Per file.")
    max_total: Annotated[str, AfterValidator(_size_text)] = Field("16g", description="Per copy.")


class Runtime(Section):
    """Where the stack runs."""

    kind: Literal[KINDS] = "docker"  # type: ignore[valid-type]  # the registry's kinds
    docker: DockerSettings = Field(default_factory=DockerSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    results_copy: ResultsCopy = Field(default_factory=ResultsCopy)
