"""What the Kubernetes runtime's wait on a server checks: its pod Ready, then /health and the
model answered through its Service, asked from inside the cluster (the client pod)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.plan import SCRIPTS_MOUNT, Plan
from orchestrator.runtime.kubernetes.triage import condition, waiting_reason


class PodReady:
    """A component's pod is Ready; while waiting, says which phase it is in."""

    def __init__(self, pods: Callable[[], list[dict[str, Any]]], role: str) -> None:
        self.pods, self.role = pods, role

    def __call__(self) -> str | None:
        pods = self.pods()
        if not pods:
            return f"{self.role} pod: not created yet"
        pod = pods[0]
        if condition(pod, "Ready") == "True":
            return None
        phase = waiting_reason(pod) or pod.get("status", {}).get("phase", "Pending")
        if phase == "Running":
            phase = "Running, not ready yet"
        return f"{self.role} pod {pod['metadata']['name']}: {phase}"


class ExecCheck:
    """A command run in a pod (`run(argv, on_output)` returns its exit code) exits 0."""

    def __init__(self, run: Callable[[list[str], Callable[[str], None]], int], argv: list[str],
                 what: str) -> None:
        self.run, self.argv, self.what = run, argv, what

    def __call__(self) -> str | None:
        output: list[str] = []
        try:
            code = self.run(self.argv, output.append)
        except Exception as exc:  # noqa: BLE001 - an exec that fails now means "not ready yet"
            return f"{self.what}: exec failed ({type(exc).__name__})"
        if code == 0:
            return None
        said = " ".join("".join(output).split())[:120]
        return f"{self.what}: {said or f'exit {code}'}"


def http_check(plan: Plan, role: str) -> tuple[str, list[str]]:
    """The component's Service URL, and http_check.py against it (run in the client pod)."""
    component = plan.component(role)
    url = f"http://{component.name}:{component.ports[0].container_port}"
    return url, ["python3", f"{SCRIPTS_MOUNT}/http_check.py", url]
