"""The command line's frame: the typer app and its groups, errors turned into clean lines,
the options commands share, and loading a config or finding a project's runtime.

Failures of the kinds in `errors.py` are caught once, in the root group, and printed as one
line each on stderr; commands import the heavy modules (pydantic, docker, kubernetes) lazily so
that `orchestrator --help` stays instant.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from orchestrator import __version__
from orchestrator.errors import ConfigError, OrchestratorError
from orchestrator.runtimes import KINDS
from orchestrator.terminal import plain

if TYPE_CHECKING:
    from orchestrator.config import LoadedConfig
    from orchestrator.runtime.base import Runtime

err = Console(stderr=True)


def out() -> Console:
    """A console for stdout; when piped, wide enough that tables are never cut."""
    return Console() if sys.stdout.isatty() else Console(width=250)


class _ReportingGroup(TyperGroup):
    """Root command group: turns OrchestratorError into clean lines and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except OrchestratorError as exc:
            for line in exc.lines:
                err.print(Text.assemble(("error: ", "bold red"), plain(line)), soft_wrap=True)
            if exc.details:
                err.print(Text(plain(exc.details.rstrip("\n")), style="dim"), soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print(Text.assemble(("interrupted", "bold red")))
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_ReportingGroup,
    name="orchestrator",
    help=(
        "Run vLLM serving benchmarks and GRPO training from one YAML file, on Docker,"
        " Kubernetes or bare hosts.\n\n"
        "Start with [bold]orchestrator validate -f examples/cpu-tiny.yaml[/bold], then"
        " [bold]orchestrator render bench -f FILE[/bold] to see what would run."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)
config_app = typer.Typer(
    help="Show the resolved config, or the JSON schema of config files.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(config_app, name="config")
analyze_app = typer.Typer(
    help="Analyse logs: rollout generation speed and the MAX_TOKENS it suggests.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(analyze_app, name="analyze")


# Where to run it: the registry's kinds.
RuntimeKind = enum.Enum("RuntimeKind", {kind: kind for kind in KINDS}, type=str)  # type: ignore[misc]


FileOpt = Annotated[
    Path | None,
    typer.Option(
        "-f", "--file", help="Config file.  [dim]\\[default: ./orchestrator.yaml][/dim]",
        show_default=False, dir_okay=False,
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Override a config value (YAML), e.g. --set workload.concurrency=[1,4]. Repeatable;"
        " applied after the file and the environment (MODEL, INPUT_LEN, OUTPUT_LEN, ...).",
        show_default=False,
    ),
]
SweepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sweep", metavar="SIDE.KEY=V1,V2",
        help="Try each value: --sweep server.max_num_seqs=64,256 restarts the server per value;"
        " --sweep workload.output_len=128,512 runs each on the warm server. Repeatable (their"
        " product); replaces sweep.SIDE.KEY of the file.",
        show_default=False,
    ),
]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "-p", "--project", help="Project name that prefixes every resource.  [dim]\\[default:"
        " the config's name, else its folder][/dim]", show_default=False,
    ),
]
RuntimeOpt = Annotated[
    RuntimeKind | None,
    typer.Option("--runtime", help="Override runtime.kind.", show_default=False),
]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="Kubernetes: the kubeconfig context (default: current).",
                 show_default=False),
]


def load(file: Path | None, sets: list[str] | None, project: str | None,
         runtime: RuntimeKind | None, sweeps: list[str] | None = None) -> LoadedConfig:
    """Load and validate the config as the command's options say."""
    from orchestrator.config import load_config

    return load_config(file, sets or (), project, runtime.value if runtime else None,
                       sweeps=sweeps or ())


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orchestrator {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Run vLLM serving benchmarks and GRPO training from one YAML file."""


def context_set(context: str | None) -> list[str]:
    """The --set that --context stands for."""
    return [f"runtime.kubernetes.context={context}"] if context else []


def found_projects(runtime: RuntimeKind | None,
                   context: str | None) -> list[tuple[str, str, Runtime]]:
    """(project, runtime kind, runtime) for every project found on the runtimes that answer
    (only `runtime` when given; a Kubernetes cluster's current namespace), as `docker compose
    ls` lists them; a runtime that cannot be reached is left out."""
    from orchestrator.plan import Scope
    from orchestrator.runtime.registry import get_runtime

    found = []
    for kind in [runtime.value] if runtime else KINDS:
        try:
            engine = get_runtime(kind, "ps", Scope(context=context))
            found += [(name, kind, engine) for name in engine.projects()]
        except OrchestratorError:
            continue
    return found


def target(file: Path | None, sets: list[str] | None, project: str | None,
           runtime: RuntimeKind | None,
           context: str | None, verb: str) -> tuple[str, Runtime]:
    """(project, runtime) for commands that find things by label: from the config, or from -p
    alone when there is no config file (then --runtime, default docker, says where)."""
    from orchestrator.config import DEFAULT_CONFIG
    from orchestrator.plan import Scope, scope_of
    from orchestrator.runtime.registry import get_runtime

    if file is None and project is not None and not DEFAULT_CONFIG.exists():
        kind = runtime.value if runtime else KINDS[0]
        return project, get_runtime(kind, verb, Scope(context=context))
    if file is None and not DEFAULT_CONFIG.exists():
        found = ", ".join(f"{name} ({kind})" for name, kind, _ in found_projects(runtime, context))
        raise ConfigError(f"no orchestrator.yaml in this folder: name the project with -p"
                          f" (`orchestrator {verb} -p NAME`) or pass -f FILE; "
                          + (f"found: {found}" if found else "no project found on any runtime"
                             " that answers"))
    loaded = load(file, [*(sets or []), *context_set(context)], project, runtime)
    return loaded.project, get_runtime(loaded.spec.runtime.kind, verb, scope_of(loaded.spec))
