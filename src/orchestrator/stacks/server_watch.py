"""Whether the server that became ready is still the one being measured. LeaderWorkerSet
recreates a multi-node server's whole group when one of its pods is lost, and a container may
restart: the server then answers again minutes later, and a point measured across that is a
measurement of the restart. After each point the stack compares the server's pods (containers,
processes) with those it had when it became ready."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.names import Role
from orchestrator.runtime.base import TERMINATING, ComponentState, Runtime


@dataclass(frozen=True)
class ServerWatch:
    """The server's pods (containers, processes) of one project as they were when it became
    ready."""

    runtime: Runtime
    project: str
    ready: dict[str, ComponentState]

    @classmethod
    def now(cls, runtime: Runtime, project: str) -> ServerWatch:
        """The server as it is now (call once it is ready); a pod of an earlier start still
        terminating (a rolling update) is not part of it."""
        rows = _server_rows(runtime, project)
        return cls(runtime, project, {k: v for k, v in rows.items() if v.state != TERMINATING})

    def lost(self) -> str | None:
        """What became of each pod the server had when it was ready (gone, replaced,
        restarted, or no longer in the state it was in); None while all are as they were."""
        now = _server_rows(self.runtime, self.project)
        changes = []
        for name, was in self.ready.items():
            where = f"{name}{f' (node {was.node})' if was.node else ''}"
            row = now.get(name)
            if row is None:
                changes.append(f"{where} is gone")
            elif row.instance != was.instance:
                changes.append(f"{where} was replaced (the new one: {row.state})")
            elif (row.restarts or 0) > (was.restarts or 0):
                changes.append(f"{where} restarted ({row.restarts} restarts)")
            elif row.state != was.state:
                changes.append(f"{where} is {row.state} (it was {was.state})")
        return "; ".join(changes) or None


def _server_rows(runtime: Runtime, project: str) -> dict[str, ComponentState]:
    return {row.name: row for row in runtime.status(project) if row.component == Role.server}
