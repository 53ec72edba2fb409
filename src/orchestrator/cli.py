"""The `orchestrator` command line (typer + rich).

Failures of the kinds in `errors.py` are caught once, in the root group, and printed as one
line each on stderr; commands import the heavy modules (pydantic, docker, kubernetes) lazily so
that `orchestrator --help` stays instant.
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from orchestrator import __version__
from orchestrator.errors import OrchestratorError

if TYPE_CHECKING:
    from orchestrator.config import LoadedConfig
    from orchestrator.runtime.base import Runtime

err = Console(stderr=True)


def _out() -> Console:
    """A console for stdout; when piped, wide enough that tables are never cut."""
    return Console() if sys.stdout.isatty() else Console(width=250)


class _ReportingGroup(TyperGroup):
    """Root command group: turns OrchestratorError into clean lines and an exit code."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except OrchestratorError as exc:
            for line in exc.lines:
                err.print(Text.assemble(("error: ", "bold red"), line), soft_wrap=True)
            if exc.details:
                err.print(Text(exc.details.rstrip("\n"), style="dim"), soft_wrap=True)
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


class Stack(str, enum.Enum):
    """What to run."""

    bench = "bench"
    train = "train"


class RuntimeKind(str, enum.Enum):
    """Where to run it."""

    docker = "docker"
    kubernetes = "kubernetes"
    local = "local"


class Role(str, enum.Enum):
    """A component of a stack."""

    server = "server"
    client = "client"
    rollout = "rollout"
    trainer = "trainer"


class RenderFormat(str, enum.Enum):
    """How Docker renderings are written."""

    sdk = "sdk"
    compose = "compose"


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


def _load(file: Path | None, sets: list[str] | None, project: str | None,
          runtime: RuntimeKind | None) -> LoadedConfig:
    from orchestrator.config import load_config

    return load_config(file, sets or (), project, runtime.value if runtime else None)


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


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator validate -f examples/cpu-tiny.yaml\n\n"
    "  orchestrator validate -f examples/seed-002-gpt-oss-120b.yaml --set workload.output_len=512",
)
def validate(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
             runtime: RuntimeOpt = None) -> None:
    """Check a config without starting anything; exit 0 if valid, 1 with one line per problem."""
    loaded = _load(file, set_, project, runtime)
    spec = loaded.spec
    parts = []
    if spec.server is not None:
        server = spec.server
        points = spec.workload.concurrency_points
        parts.append(
            f"{server.model} on {_where(server.gpu_count)} (tp {server.tensor_parallel_size} x pp"
            f" {server.pipeline_parallel_size}), {len(points)} sweep point(s) {points}"
        )
    if spec.trainer is not None:
        trainer = spec.trainer
        rollout = trainer.rollout
        generation = (f"rollout server on {_where(rollout.gpu_count)}" if rollout
                      else f"{trainer.generation} generation")
        parts.append(f"trains {trainer.model} on {_where(trainer.gpu_count)} with {generation},"
                     f" {trainer.max_steps} step(s)")
    typer.echo(f"{loaded.path} is valid: project {loaded.project}, runtime {spec.runtime.kind},"
               f" {'; '.join(parts)}")


def _where(gpus: int) -> str:
    return f"{gpus} GPU(s)" if gpus else "CPU"


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator render bench -f examples/cpu-tiny.yaml\n\n"
    "  orchestrator render bench --format compose -o out/ && docker compose -f"
    " out/docker-compose.yaml up -d\n\n"
    "  orchestrator render bench --runtime kubernetes -o out/ && kubectl apply -f out/\n\n"
    "  orchestrator render train -f examples/gpu-train.yaml --runtime kubernetes",
)
def render(
    stack: Annotated[Stack, typer.Argument(help="The stack to render.")],
    file: FileOpt = None,
    set_: SetOpt = None,
    project: ProjectOpt = None,
    runtime: RuntimeOpt = None,
    format_: Annotated[
        RenderFormat,
        typer.Option("--format", help="Docker only: the SDK's arguments, or a compose file."),
    ] = RenderFormat.sdk,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write files into this folder instead of printing.",
                     file_okay=False, show_default=False),
    ] = None,
) -> None:
    """Show exactly what would be created: Docker SDK arguments, a compose file, or manifests."""
    from orchestrator.plan import build_plan
    from orchestrator.render.output import header, to_yaml, write_files

    loaded = _load(file, set_, project, runtime)
    kind = loaded.spec.runtime.kind
    if format_ is RenderFormat.compose and kind != "docker":
        raise typer.BadParameter("--format compose renders for --runtime docker only",
                                 param_hint="--format")
    plan = build_plan(stack.value, loaded.spec, loaded.project)
    files: dict[str, list[dict]] = {}
    if kind == "docker" and format_ is RenderFormat.compose:
        from orchestrator.render.compose import render_compose

        files["docker-compose.yaml"] = [render_compose(plan)]
    elif kind == "docker":
        from orchestrator.render.docker import render_docker

        files["docker.yaml"] = [render_docker(plan)]
    elif kind == "kubernetes":
        from orchestrator.render.kubernetes import render_kubernetes

        files = render_kubernetes(plan, loaded.spec)
    else:
        from orchestrator.render.local import render_local
        from orchestrator.runtime.local import state_root

        files["local.yaml"] = [render_local(plan, state_root())]
    if output is None:
        typer.echo(to_yaml([obj for objects in files.values() for obj in objects]), nl=False)
        return
    source = header(str(loaded.path))
    written = write_files(output, {name: source + to_yaml(objs) for name, objs in files.items()})
    for path in written:
        err.print(f"wrote {path}", highlight=False)


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator up bench -f examples/cpu-tiny.yaml\n\n"
    "  orchestrator up bench --set workload.concurrency=[1,8] --keep\n\n"
    "  orchestrator up bench -d     # start and wait until healthy; benchmark by hand later\n\n"
    "  orchestrator up train -f examples/cpu-train.yaml    # GRPO; results in train_results/",
)
def up(
    stack: Annotated[Stack, typer.Argument(help="The stack to run.")],
    file: FileOpt = None,
    set_: SetOpt = None,
    project: ProjectOpt = None,
    runtime: RuntimeOpt = None,
    keep: Annotated[bool, typer.Option("--keep", help="Leave everything running afterwards.")] = False,
    detach: Annotated[bool, typer.Option(
        "-d", "--detach", help="Start and wait until ready, then leave it running (bench: no"
        " sweep; train: follow with `logs trainer -f`).")] = False,
    context: ContextOpt = None,
) -> None:
    """Start the stack, wait until healthy, run it, collect results, then tear down.

    [bold]bench[/bold]: the vLLM server, then one `vllm bench serve` per concurrency point;
    results in results_dir/RUN-ID/. [bold]train[/bold]: the rollout server (`trl vllm-serve`),
    then GRPO training with its log streamed; metrics.csv, rollouts.log and the final model in
    trainer.results_dir/RUN-ID/.
    """
    from orchestrator.runtime import get_runtime
    from orchestrator.stacks import stack_runner

    loaded = _load(file, [*(set_ or []), *_context_set(context)], project, runtime)
    run = stack_runner(stack.value, loaded.spec.runtime.kind)
    engine = get_runtime(loaded.spec.runtime.kind, f"up {stack.value}", loaded.spec)
    run(loaded, engine, keep=keep, console=_out(), detach=detach)


def _context_set(context: str | None) -> list[str]:
    return [f"runtime.kubernetes.context={context}"] if context else []


def _target(file: Path | None, sets: list[str] | None, project: str | None,
            runtime: RuntimeKind | None, context: str | None, verb: str) -> tuple[str, Runtime]:
    """(project, runtime) for commands that find things by label: from the config, or from -p
    alone when there is no config file (then --runtime, default docker, says where)."""
    from orchestrator.config import DEFAULT_CONFIG
    from orchestrator.config.model import KubernetesSettings
    from orchestrator.runtime import get_runtime

    if file is None and project is not None and not DEFAULT_CONFIG.exists():
        kind = runtime.value if runtime else "docker"
        return project, get_runtime(kind, verb, kubernetes=KubernetesSettings(context=context))
    loaded = _load(file, [*(sets or []), *_context_set(context)], project, runtime)
    return loaded.project, get_runtime(loaded.spec.runtime.kind, verb, loaded.spec)


@app.command(epilog="[bold]Examples[/bold]\n\n  orchestrator down -f examples/cpu-tiny.yaml\n\n"
             "  orchestrator down -p cpu-tiny")
def down(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
         runtime: RuntimeOpt = None, context: ContextOpt = None) -> None:
    """Remove everything the project started (found by its labels); safe to run twice."""
    name, engine = _target(file, set_, project, runtime, context, "down")
    removed = engine.down(name)
    for item in removed:
        typer.echo(f"removed {item}")
    if not removed:
        typer.echo(f"nothing of project {name} to remove")


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
    """List the project's containers or pods: name, image, state, health, ports, age."""
    from rich.table import Table

    name, engine = _target(file, set_, project, runtime, context, "ps")
    rows = [r for r in engine.status(name) if component is None or r.component == component.value]
    if quiet:
        for row in rows:
            typer.echo(row.name)
        return
    pods = any(row.node for row in rows)  # Kubernetes: restarts and node instead of ports
    headers = ["name", "component", "image", "state", "health",
               *(["restarts", "node"] if pods else ["ports"]), "age"]
    table = Table(*headers, box=None)
    for column in table.columns:
        column.no_wrap = True
    for row in rows:
        where = [str(row.restarts), row.node] if pods else [row.ports]
        table.add_row(row.name, row.component, row.image, row.state, row.health, *where,
                      _age(row.age_s))
    _out().print(table)


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
    file: Annotated[Path | None, typer.Option("--file", help="Config file.", show_default=False,
                                              dir_okay=False)] = None,
    set_: SetOpt = None,
    project: ProjectOpt = None,
    runtime: RuntimeOpt = None,
    context: ContextOpt = None,
) -> None:
    """Print a component's logs (`-f` follows them, as in docker compose)."""
    name, engine = _target(file, set_, project, runtime, context, f"logs {component.value}")
    for chunk in engine.logs(name, component.value, follow, tail):
        sys.stdout.write(chunk)
        sys.stdout.flush()


@config_app.command("show", epilog="[bold]Example[/bold]\n\n"
                    "  orchestrator config show -f examples/cpu-tiny.yaml --set server.port=9000")
def config_show(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
                runtime: RuntimeOpt = None) -> None:
    """Print the resolved config (file < environment < --set), secrets redacted."""
    import yaml

    from orchestrator.config.redact import redacted_config

    loaded = _load(file, set_, project, runtime)
    typer.echo(f"# project: {loaded.project}  (resolved from {loaded.path})")
    typer.echo(yaml.safe_dump(redacted_config(loaded.spec), sort_keys=False), nl=False)


@config_app.command("schema", epilog="[bold]Example[/bold]\n\n"
                    "  orchestrator config schema > orchestrator.schema.json")
def config_schema() -> None:
    """Print the JSON schema of config files, for editors' completion and checks."""
    from orchestrator.config.model import StackSpec

    typer.echo(json.dumps(StackSpec.model_json_schema(), indent=2))


@analyze_app.command("rollouts", epilog="[bold]Examples[/bold]\n\n"
                     "  orchestrator analyze rollouts train_results/RUN/trainer.log\n\n"
                     "  orchestrator analyze rollouts trainer.log --max-tokens 4096 --show-raw-output\n\n"
                     "  orchestrator analyze rollouts trainer.log --json | jq .recommended_max_tokens")
def analyze_rollouts(
    logfile: Annotated[Path, typer.Argument(help="A log with `LLM Generation: ...` lines.",
                                            exists=True, dir_okay=False)],
    min_output_tokens: Annotated[int, typer.Option(
        "--min-output-tokens", help="List the turns that generate at least this many tokens.")] = 512,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", help="The MAX_TOKENS the run used: finds outputs cut off by it.",
        show_default=False)] = None,
    show_raw_output: Annotated[bool, typer.Option(
        "--show-raw-output", help="Show the text of turns that think aloud before a tool call.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Tokens/s per rollout turn, the spread of output lengths, and a MAX_TOKENS to use."""
    from orchestrator.analysis.rollouts import analyze
    from orchestrator.analysis.rollouts_view import show_report

    report = analyze(logfile, min_output_tokens, max_tokens)
    if as_json:
        typer.echo(report.to_json())
    else:
        show_report(report, _out(), show_raw_output, min_output_tokens)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="orchestrator")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
