"""Commands beside the stacks: the resolved config, its schema, and log analysis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.app import (
    FileOpt,
    ProjectOpt,
    RuntimeOpt,
    SetOpt,
    analyze_app,
    config_app,
    load,
    out,
)


@config_app.command("show", epilog="[bold]Example[/bold]\n\n"
                    "  orchestrator config show -f examples/cpu-tiny.yaml --set server.port=9000")
def config_show(file: FileOpt = None, set_: SetOpt = None, project: ProjectOpt = None,
                runtime: RuntimeOpt = None) -> None:
    """Print the resolved config (file < environment < --set), secrets redacted."""
    import yaml

    from orchestrator.config.redact import redacted_config

    loaded = load(file, set_, project, runtime)
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
        show_report(report, out(), show_raw_output, min_output_tokens)
