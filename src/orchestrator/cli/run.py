"""Commands that check, render and run a stack: validate, render, up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.app import (
    ContextOpt,
    FileOpt,
    ProjectOpt,
    RuntimeOpt,
    SetOpt,
    SweepOpt,
    app,
    context_set,
    err,
    load,
    out,
)
from orchestrator.names import Stack
from orchestrator.runtimes import KINDS, RUNTIMES, formats, renders_secrets
from orchestrator.terminal import safe

FORMATS_HELP = "; ".join(f"{kind}: {', '.join(row.renderers)}" for kind, row in RUNTIMES.items())


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator validate -f examples/cpu-tiny.yaml\n\n"
    "  orchestrator validate -f examples/seed-002-gpt-oss-120b.yaml --set workload.output_len=512",
)
def validate(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
             runtime: RuntimeOpt = None, sweep: SweepOpt = None) -> None:
    """Check a config without starting anything (every sweep combination too); exit 0 if
    valid, 1 with one line per problem."""
    loaded = load(file, set_, project, runtime, sweep)
    spec = loaded.spec
    parts = []
    if spec.server is not None and loaded.matrix is not None:
        server = spec.server
        matrix = loaded.matrix
        points = spec.workload.concurrency_points
        if matrix.search is not None:
            from orchestrator.analysis.search import most_probes

            search = matrix.search
            shape = (f"{len(matrix.variants)} server variant(s), a capacity search over"
                     f" {search.over.replace('_', ' ')} {search.start:g}..{search.max:g} (at most"
                     f" {most_probes(search.start, search.max, search.resolution)} probes each)")
        elif len(matrix.variants) > 1 or matrix.swept["workload"]:
            shape = (f"a sweep of {len(matrix.variants)} server variant(s) x"
                     f" {len(matrix.workloads[0])} workload(s), {len(matrix.all_points)} point(s)")
        else:
            shape = f"{len(points)} sweep point(s) {points}"
        serving = (f"{server.model_name} at {spec.client.server_url} (not started by this tool)"
                   if spec.client.server_url else
                   f"{server.model} on {_where(server.gpu_count)} (tp"
                   f" {server.tensor_parallel_size} x pp {server.pipeline_parallel_size})")
        parts.append(f"{serving}, {shape}")
    if spec.trainer is not None:
        trainer = spec.trainer
        rollout = trainer.rollout
        generation = (f"rollout server on {_where(rollout.gpu_count)}" if rollout
                      else f"{trainer.generation} generation")
        parts.append(f"trains {trainer.model} on {_where(trainer.gpu_count)} with {generation},"
                     f" {trainer.max_steps} step(s)")
    if spec.server is not None and loaded.matrix is not None and not spec.client.server_url:
        from orchestrator.stacks.fit_check import check_variants, inventory_here

        check_variants(loaded.matrix.variants, inventory_here(spec.runtime.kind), out(),
                       count_only_warns=True)
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
        str | None,
        typer.Option("--format", help=f"How to render: {FORMATS_HELP}.  [dim][default: the"
                     " runtime's first][/dim]", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write files into this folder instead of printing.",
                     file_okay=False, show_default=False),
    ] = None,
    with_secrets: Annotated[bool, typer.Option(
        "--with-secrets", help="Kubernetes: also render the Secrets the manifests reference,"
        " filled from this shell's environment. Off by default: then no file holds a secret."),
    ] = False,
) -> None:
    """Show exactly what would be created: Docker SDK arguments, a compose file, manifests, or
    the host processes."""
    from orchestrator.plan import build_plan
    from orchestrator.rendered import header, to_yaml, write_files
    from orchestrator.runtime import registry

    loaded = load(file, set_, project, runtime)
    kind = loaded.spec.runtime.kind
    if format_ is not None and format_ not in formats(kind):
        owners = [k for k in KINDS if format_ in formats(k)]
        where = f"--runtime {' or '.join(owners)} only" if owners else "no runtime"
        raise typer.BadParameter(f"--format {format_} renders for {where}; the {kind} runtime"
                                 f" renders {', '.join(formats(kind))}",
                                 param_hint="--format")
    if with_secrets and not renders_secrets(kind):
        raise typer.BadParameter(f"the {kind} runtime reads secrets from the environment of the"
                                 " machine that runs orchestrator; --with-secrets is for"
                                 " --runtime kubernetes", param_hint="--with-secrets")
    plan = build_plan(stack, loaded.spec, loaded.project)
    files = {**(registry.render_secrets(kind, plan) if with_secrets else {}),
             **registry.render(kind, plan, format_)}
    if output is None:
        typer.echo(to_yaml([obj for objects in files.values() for obj in objects]), nl=False)
        return
    source = header(str(loaded.path))
    written = write_files(output, {name: source + to_yaml(objs) for name, objs in files.items()})
    for path in written:
        err.print(f"wrote {safe(path)}", highlight=False, soft_wrap=True)


@app.command(
    epilog="[bold]Examples[/bold]\n\n"
    "  orchestrator up bench -f examples/cpu-tiny.yaml\n\n"
    "  orchestrator up bench --set workload.concurrency=[1,8] --keep\n\n"
    "  orchestrator up bench --sweep server.max_num_seqs=8,32 --sweep workload.output_len=32,128\n\n"
    "  orchestrator up bench --sweep server.max_num_seqs=8,32 --dry-run   # matrix and estimate\n\n"
    "  orchestrator up bench --resume bench_results/RUN-ID   # finish an interrupted sweep\n\n"
    "  orchestrator up bench -d     # start and wait until healthy; benchmark by hand later\n\n"
    "  orchestrator up train -f examples/cpu-train.yaml    # GRPO; results in train_results/\n\n"
    "  orchestrator up train --resume train_results/RUN-ID   # on from its last checkpoint",
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
    sweep: SweepOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="bench: print the sweep's matrix, server starts and estimated time and"
        " GPU-hours; start nothing.")] = False,
    resume: Annotated[str | None, typer.Option(
        "--resume", metavar="RUN", help="bench: finish an interrupted run (its folder, or its id"
        " under ./bench_results) with its own config; points already home are skipped. train:"
        " go on from the run's last checkpoint home, into the same folder.",
        show_default=False)] = None,
) -> None:
    """Start the stack, wait until healthy, run it, collect results, then tear down.

    [bold]bench[/bold]: for each server variant of the sweep (one without sweep:), the vLLM
    server, then every workload point in one bench process; results in results_dir/RUN-ID/
    (raw/VARIANT/*.json, summary.csv, variants.json). [bold]train[/bold]: the rollout server
    (`trl vllm-serve`), then GRPO training with its log streamed; metrics.csv, rollouts.log and
    the final model in trainer.results_dir/RUN-ID/.
    """
    from orchestrator.plan import scope_of
    from orchestrator.runtime.registry import get_runtime
    from orchestrator.stacks import stack_runner

    if stack is Stack.train and (sweep or dry_run):
        raise typer.BadParameter("--sweep and --dry-run are for `up bench`",
                                 param_hint="--sweep/--dry-run")
    folder = None
    extra: dict[str, object] = {}
    if resume is not None:
        from orchestrator.results.resume import resume_config, resume_train_config

        if file is not None or set_ or sweep:
            raise typer.BadParameter("--resume reloads the run's own config; leave out -f,"
                                     " --set and --sweep", param_hint="--resume")
        kind = runtime.value if runtime else None
        if stack is Stack.train:
            folder, loaded, extra["checkpoint"] = resume_train_config(resume, project, kind)
        else:
            folder, loaded = resume_config(resume, project, kind)
        extra["resume"] = folder
    else:
        loaded = load(file, [*(set_ or []), *context_set(context)], project, runtime, sweep)
    if dry_run:
        from orchestrator.stacks.bench import dry_run as print_dry_run

        print_dry_run(loaded, out(), folder)
        return
    run = stack_runner(stack.value)
    engine = get_runtime(loaded.spec.runtime.kind, f"up {stack.value}", scope_of(loaded.spec))
    run(loaded, engine, keep=keep, console=out(), detach=detach, **extra)
