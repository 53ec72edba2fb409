"""Load, override, validate and cross-check a config: file < environment < --set."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from orchestrator.config.checks import cross_check
from orchestrator.config.messages import format_validation_error
from orchestrator.config.model import StackSpec, Sweep
from orchestrator.config.source import Layers, apply_env, apply_sets, apply_sweeps, read_file
from orchestrator.config.sweep import expand
from orchestrator.config.sweep_matrix import Matrix
from orchestrator.errors import ConfigError
from orchestrator.runtimes import traits

DEFAULT_CONFIG = Path("orchestrator.yaml")
_PROJECT = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")


@dataclass(frozen=True)
class LoadedConfig:
    """A validated spec, the project it runs as, and the file it came from."""

    spec: StackSpec
    project: str
    path: Path
    matrix: Matrix | None = None  # the bench sweep (one variant without sweep:); None: no server


def load_config(
    path: Path | None = None,
    sets: Sequence[str] = (),
    project: str | None = None,
    runtime: str | None = None,
    environ: Mapping[str, str] | None = None,
    sweeps: Sequence[str] = (),
) -> LoadedConfig:
    """Read `path` (default ./orchestrator.yaml), apply env, `--set` then `--sweep`, validate
    everything (each sweep combination too).

    `runtime`, when given (the CLI's --runtime), acts as a last `--set runtime.kind=...`.
    Raises ConfigError with one line per problem, each prefixed by where the value came from.
    """
    config_path = path or DEFAULT_CONFIG
    if path is None and not config_path.exists():
        raise ConfigError(
            "no orchestrator.yaml in this folder; pass -f FILE, for example"
            " -f examples/cpu-tiny.yaml"
        )
    layers = read_file(config_path)
    apply_env(layers, environ)
    apply_sets(layers, sets)
    apply_sweeps(layers, sweeps)
    if runtime is not None:
        layers.set(("runtime", "kind"), runtime, f"--runtime {runtime}")
    spec, matrix = validate(layers)
    name = project_name(project, spec, config_path)
    runtime_traits = traits(spec.runtime.kind)
    if runtime_traits.dns_names and not _DNS_1035.match(name):
        where = f"-p {name}" if project else (layers.origin_of(("name",)) or "the config's folder")
        raise ConfigError(
            f"{where}: the project name {name!r} must start with a letter on"
            f" {runtime_traits.title} (it names Services: a DNS-1035 label); set name: to one"
            f" such as p-{name}"
        )
    return LoadedConfig(spec=spec, project=name, path=config_path, matrix=matrix)


def load_saved(path: Path, project: str | None = None,
               runtime: str | None = None) -> LoadedConfig:
    """A run folder's config.yaml (the resolved config a run wrote) loaded as it was: no
    environment overrides; the project it ran as unless `project` is given."""
    layers = read_file(path)
    saved_project = layers.data.pop("project", None)
    if runtime is not None:
        layers.set(("runtime", "kind"), runtime, f"--runtime {runtime}")
    spec, matrix = validate(layers)
    chosen = project or (saved_project if isinstance(saved_project, str) else None)
    return LoadedConfig(spec=spec, project=project_name(chosen, spec, path), path=path,
                        matrix=matrix)


def validate(layers: Layers) -> tuple[StackSpec, Matrix | None]:
    """Validate raw layers into a StackSpec, shape first and then cross-field rules, then
    every combination of its sweep; returns the spec and its sweep matrix."""
    matrix = None
    try:
        spec = StackSpec.model_validate(layers.data)
    except ValidationError as exc:
        problems = format_validation_error(exc, StackSpec)
    else:
        problems = cross_check(spec)
        if not problems and (spec.server is not None or spec.sweep != Sweep()):
            matrix, problems = expand(spec)
    if problems:
        raise ConfigError(*(_locate(layers, loc, message) for loc, message in problems))
    return spec, matrix


def _locate(layers: Layers, loc: tuple[str | int, ...], message: str) -> str:
    origin = layers.origin_of(loc)
    return f"{origin}: {message}" if origin else message


def project_name(option: str | None, spec: StackSpec, config_path: Path) -> str:
    """The project name: -p, else the config's `name`, else its folder's name made DNS-safe."""
    if option is not None:
        if not _PROJECT.match(option) or len(option) > 40:
            raise ConfigError(
                f"-p {option!r}: a project name is lowercase letters, digits and '-',"
                " at most 40 characters"
            )
        return option
    if spec.name:
        return spec.name
    folder = config_path.resolve().parent.name
    slug = re.sub(r"[^a-z0-9]+", "-", folder.lower()).strip("-")[:40].strip("-")
    return slug or "orchestrator"
