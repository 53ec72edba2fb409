"""The GPUs: a small table of what the usual data-centre GPUs can physically do, and this host's
GPUs as nvidia-smi lists them (the one place that asks nvidia-smi)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model's limits, from its vendor's data sheet (dense bf16, no sparsity)."""

    name: str
    memory_gib: float  # what the driver reports as total (nvidia-smi memory.total)
    bandwidth_gb_s: float  # HBM/GDDR bandwidth, 1e9 bytes/s
    bf16_tflops: float  # dense bf16 tensor-core FLOPs, 1e12/s


# Matched against nvidia-smi's name in this order (first match wins: "H100 NVL" before "H100").
# Memory is the driver's total in MiB / 1024, e.g. H100 SXM 81,559 MiB.
GPU_TABLE: tuple[tuple[str, GpuSpec], ...] = (
    (r"GH200", GpuSpec("GH200", 95.0, 4000, 989)),
    (r"H200", GpuSpec("H200", 140.4, 4800, 989)),
    (r"H100.*NVL", GpuSpec("H100 NVL", 93.6, 3900, 835)),
    (r"H100.*PCIe", GpuSpec("H100 PCIe", 79.6, 2000, 756)),
    (r"H100", GpuSpec("H100 SXM", 79.6, 3350, 989)),
    (r"H20\b", GpuSpec("H20", 95.6, 4000, 148)),
    (r"B200", GpuSpec("B200", 179.1, 8000, 2250)),
    (r"A100.*80", GpuSpec("A100 80GB", 80.0, 2039, 312)),
    (r"A100", GpuSpec("A100 40GB", 40.0, 1555, 312)),
    (r"L40S", GpuSpec("L40S", 45.0, 864, 362)),
    (r"L4\b", GpuSpec("L4", 22.5, 300, 121)),
    (r"A10G", GpuSpec("A10G", 22.5, 600, 70)),
    (r"A10\b", GpuSpec("A10", 22.5, 600, 125)),
)


def lookup(name: str) -> GpuSpec | None:
    """The table's row for a GPU name as nvidia-smi (or a node label) gives it, or None."""
    for pattern, spec in GPU_TABLE:
        if re.search(pattern, name, re.IGNORECASE):
            return spec
    return None


@dataclass(frozen=True)
class HostGpu:
    """One GPU nvidia-smi lists."""

    index: int
    name: str
    memory_mib: float
    driver: str = ""

    def line(self) -> str:
        """`0, NVIDIA H100 80GB HBM3, 550.54, 81559 MiB`, as nvidia-smi's CSV says it."""
        return f"{self.index}, {self.name}, {self.driver}, {self.memory_mib:g} MiB"


def host_gpus() -> list[HostGpu]:
    """This host's NVIDIA GPUs ([] without nvidia-smi or a driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,driver_version,memory.total",
             "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_listing(listed.stdout) if listed.returncode == 0 else []


def parse_listing(text: str) -> list[HostGpu]:
    """nvidia-smi's `index, name, driver_version, memory.total` CSV lines (MiB, with or
    without the unit); lines that do not parse are skipped."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        index, name, driver, memory = parts
        try:
            gpus.append(HostGpu(int(index), name, float(memory.removesuffix("MiB").strip()),
                                driver))
        except ValueError:
            continue
    return gpus


@dataclass(frozen=True)
class GpuInventory:
    """The GPUs a server may use where it runs: how many one server can have (per node), their
    name and memory; None where that cannot be known (no nvidia-smi, no GPU nodes yet)."""

    where: str  # "this host (nvidia-smi)", "node gpu-1 (allocatable nvidia.com/gpu)"
    count: int | None
    name: str | None = None
    memory_gib: float | None = None


def host_inventory() -> GpuInventory:
    """This host's GPUs (Docker and the local runtime run here)."""
    gpus = host_gpus()
    where = "this host (nvidia-smi)" if gpus else "this host (no nvidia-smi, no NVIDIA GPU)"
    return GpuInventory(where, len(gpus), gpus[0].name if gpus else None,
                        gpus[0].memory_mib / 1024 if gpus else None)


def node_inventory(nodes: list[dict[str, object]]) -> GpuInventory:
    """The GPUs of a cluster's nodes (Node objects): the most one node can give a pod, from
    its allocatable nvidia.com/gpu, and the GPU's name and memory from the NVIDIA GPU feature
    discovery labels when there. No node with GPUs: count unknown (an autoscaler may add one)."""
    best: tuple[int, str, dict[str, str]] | None = None
    for node in nodes:
        meta = node.get("metadata") if isinstance(node.get("metadata"), dict) else {}
        status = node.get("status") if isinstance(node.get("status"), dict) else {}
        assert isinstance(meta, dict) and isinstance(status, dict)
        allocatable = status.get("allocatable") or {}
        try:
            count = int(str(allocatable.get("nvidia.com/gpu", "0")))
        except ValueError:
            count = 0
        labels = meta.get("labels") or {}
        if count and (best is None or count > best[0]):
            best = (count, str(meta.get("name", "?")), labels)
    if best is None:
        return GpuInventory("the cluster (no node offers nvidia.com/gpu now)", None)
    count, name, labels = best
    memory = labels.get("nvidia.com/gpu.memory")  # MiB
    try:
        memory_gib = float(memory) / 1024 if memory else None
    except ValueError:
        memory_gib = None
    return GpuInventory(f"node {name} (allocatable nvidia.com/gpu)", count,
                        labels.get("nvidia.com/gpu.product"), memory_gib)
