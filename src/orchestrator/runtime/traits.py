"""What a runtime can do, declared once per runtime; checks and messages ask these instead of
comparing runtime names."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Traits:
    """The abilities and words of one runtime."""

    title: str  # how messages name it: "Docker", "Kubernetes", "local"
    component_word: str  # what one component is called there: "container", "process"
    pins_gpu_ids: bool  # GPUs are given by id (one host), not only by count
    loopback_services: bool  # components reach each other on 127.0.0.1, not by name
    # The name by which a component reaches this host (a server the tool did not start, running
    # here), when the runtime maps one; loopback there is the component itself.
    host_alias: str | None = None
    limits_memory: bool = True  # a component can be given a memory limit (killed above it)
    dns_names: bool = False  # names become DNS-1035 labels (Service names): start with a letter
    # Files from this machine (the dataset) travel in an object of at most this many bytes
    # (a ConfigMap) unless a volume of the cluster's holds them; None: mounted as they are.
    file_object_bytes: int | None = None
    # Roles that may span several nodes, and what they become there ("a LeaderWorkerSet").
    spans_nodes: dict[str, str] = field(default_factory=dict)
