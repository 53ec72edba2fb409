"""Commands that find a project's components by label: ps, logs, collect, down."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.app import (
    ContextOpt,
    FileOpt,
    ProjectOpt,
    RuntimeOpt,
    SetOpt,
    app,
    found_projects,
    out,
    target,
)
from orchestrator.names import Role
from orchestrator.terminal import plain, safe


@app.command(epilog="[bold]Examples[/bold]\n\n  orchestrator down -f examples/cpu-tiny.yaml\n\n"
             "  orchestrator down -p cpu-train --discard")
def down(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
         runtime: RuntimeOpt = None, context: ContextOpt = None,
         discard: Annotated[bool, typer.Option(
             "--discard", help="Remove a trainer without bringing its output home first.")]
         = False) -> None:
    """Remove everything the project started (found by its labels); safe to run twice. A
    trainer's output (metrics, checkpoints, the model, its log) is brought home into its run
    folder first; when it cannot be, nothing is removed unless --discard is given."""
    from orchestrator.stacks.train_home import bring_home, forget

    name, engine = target(file, set_, project, runtime, context, "down")
    if not discard:
        home = bring_home(engine, name, out())
        if home is not None:
            typer.echo(f"brought the trainer's output home ({home.files} files): "
                       f"{plain(str(home.folder))}")
    removed = engine.down(name)
    forget(engine.kind, name)
    for item in removed:
        typer.echo(f"removed {item}")
    if not removed:
        typer.echo(f"nothing of project {name} to remove")


@app.command(epilog="[bold]Examples[/bold]\n\n  orchestrator up train -d -f examples/cpu-train.yaml"
             "\n\n  orchestrator collect -f examples/cpu-train.yaml")
def collect(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
            runtime: RuntimeOpt = None, context: ContextOpt = None) -> None:
    """Copy home what the project's trainer has written so far (metrics, rollouts,
    checkpoints, the model, its log) into its run folder and write its report; safe to repeat,
    leaves everything running."""
    from orchestrator.stacks.train_home import bring_home

    name, engine = target(file, set_, project, runtime, context, "collect")
    home = bring_home(engine, name, out())
    if home is None:
        typer.echo(f"nothing of project {name} to collect (no trainer)")
        return
    typer.echo(f"collected {home.files} files into {plain(str(home.folder))}")


@app.command(epilog="[bold]Examples[/bold]\n\n  orchestrator ps -f examples/cpu-tiny.yaml\n\n"
             "  docker exec -it $(orchestrator ps server -q -p cpu-tiny) bash")
def ps(
    component: Annotated[Role | None, typer.Argument(help="Only this component.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only print names.")] = False,
    file: FileOpt = None,
    set_: SetOpt = None,
    project: ProjectOpt = None,
    runtime: RuntimeOpt = None,
    context: ContextOpt = None,
) -> None:
    """List the project's containers or pods: name, image, state, health, ports, age. With no
    config here and no -p: every project found on the runtimes that answer."""
    from rich.table import Table

    from orchestrator.config import DEFAULT_CONFIG

    if file is None and project is None and not DEFAULT_CONFIG.exists():
        _projects(runtime, context, quiet)
        return
    name, engine = target(file, set_, project, runtime, context, "ps")
    rows = [r for r in engine.status(name) if component is None or r.component == component.value]
    if quiet:
        for row in rows:
            typer.echo(plain(row.name))
        return
    pods = any(row.node for row in rows)  # Kubernetes: restarts and node instead of ports
    headers = ["name", "component", "image", "state", "health",
               *(["restarts", "node"] if pods else ["ports"]), "age"]
    table = Table(*headers, box=None)
    for column in table.columns:
        column.no_wrap = True
    for row in rows:
        where = [str(row.restarts), row.node] if pods else [row.ports]
        cells = [row.name, row.component, row.image, row.state, row.health, *where, _age(row.age_s)]
        table.add_row(*(safe(cell) for cell in cells))
    out().print(table)


def _projects(runtime: RuntimeOpt, context: ContextOpt, quiet: bool) -> None:
    """`ps` with no project: each project found, where, and its components' states."""
    from rich.table import Table

    found = found_projects(runtime, context)
    if quiet:
        for name, _, _ in found:
            typer.echo(plain(name))
        return
    if not found:
        typer.echo("no project found on any runtime that answers")
        return
    table = Table("project", "runtime", "components", box=None)
    for name, kind, engine in found:
        states = [f"{row.component} {row.state}" for row in engine.status(name)]
        table.add_row(safe(name), kind, safe(", ".join(states)))
    out().print(table)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


@app.command(
    epilog="[bold]Examples[/bold]\n\n  orchestrator logs server -f\n\n"
    "  orchestrator logs client --tail 50 --file examples/cpu-tiny.yaml",
)
def logs(
    component: Annotated[Role, typer.Argument(help="Which component's logs.")],
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep streaming new lines.")] = False,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines.",
                                             show_default=False)] = None,
    replica: Annotated[int, typer.Option(
        "--replica", min=0, help="Which pod of a component across nodes (Kubernetes): its rank,"
        " 0 being the leader.")] = 0,
    file: Annotated[Path | None, typer.Option("--file", help="Config file.", show_default=False,
                                              dir_okay=False)] = None,
    set_: SetOpt = None,
    project: ProjectOpt = None,
    runtime: RuntimeOpt = None,
    context: ContextOpt = None,
) -> None:
    """Print a component's logs (`-f` follows them, as in docker compose)."""
    name, engine = target(file, set_, project, runtime, context, f"logs {component.value}")
    for chunk in engine.logs(name, component.value, follow, tail, replica):
        sys.stdout.write(plain(chunk))
        sys.stdout.flush()
