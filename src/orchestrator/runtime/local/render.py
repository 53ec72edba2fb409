"""`render --runtime local`: the process descriptions the local runtime starts."""

from __future__ import annotations

from typing import Any

from orchestrator.plan import Plan
from orchestrator.runtime.local.processes import describe_processes, project_folder
from orchestrator.runtime.local.state import state_root


def render_local(plan: Plan) -> dict[str, Any]:
    """Every process in start order: argv, launcher, environment, working folder and log."""
    root = state_root()
    return {"state_dir": str(project_folder(plan, root)),
            "processes": [p.rendered() for p in describe_processes(plan, root)]}


def render_files(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """One file, local.yaml."""
    return {"local.yaml": [render_local(plan)]}
