"""Read the config's layers (file, environment, --set) into one mapping, remembering origins.

Each value keeps where it came from (`file:line:col`, an environment variable, a `--set`),
so that a validation message can point at the place the user has to edit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config.secrets import shown
from orchestrator.errors import ConfigError

Loc = tuple[str | int, ...]

# Seed-compatible environment variables and the config fields they set. `True` means the
# value is parsed as YAML (a number), `False` that it is taken as text.
ENV_OVERRIDES: dict[str, tuple[Loc, bool]] = {
    "VLLM_SERVER_URL": (("client", "server_url"), False),
    "MODEL": (("server", "model"), False),
    "NUM_PROMPTS": (("workload", "num_prompts"), True),
    "INPUT_LEN": (("workload", "input_len"), True),
    "OUTPUT_LEN": (("workload", "output_len"), True),
    "MAX_TOKENS": (("trainer", "max_completion_length"), True),
}


@dataclass
class Layers:
    """The merged raw config and the origin of each value in it."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[Loc, str] = field(default_factory=dict)

    def origin_of(self, loc: Sequence[str | int]) -> str | None:
        """Where the value at `loc` (or its nearest parent) was written."""
        for end in range(len(loc), -1, -1):
            found = self.origins.get(tuple(loc[:end]))
            if found:
                return found
        return None

    def set(self, loc: Loc, value: Any, origin: str) -> None:
        """Set `loc` to `value`, creating parent mappings, and forget origins under it."""
        node: dict[Any, Any] = self.data
        for depth, key in enumerate(loc[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif not isinstance(child, dict):
                dotted = ".".join(str(k) for k in loc[: depth + 1])
                raise ConfigError(
                    f"{origin}: cannot set {'.'.join(map(str, loc))}: {dotted} is not a mapping"
                )
            node = child
        node[loc[-1]] = value
        for known in [k for k in self.origins if k[: len(loc)] == loc]:
            del self.origins[known]
        self.origins[loc] = origin


def read_file(path: Path) -> Layers:
    """Parse a YAML config file into layers, with `file:line:col` for every key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found; pass -f FILE (see examples/cpu-tiny.yaml)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from None
    if data is None:
        raise ConfigError(f"{path} is empty; start from examples/cpu-tiny.yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1:1: the config must be a mapping of sections (server:, workload:, ...),"
            f" not a {type(data).__name__}"
        )
    layers = Layers(data=data)
    if root is not None:
        _record_positions(root, (), str(path), layers.origins)
    return layers


def _record_positions(node: yaml.Node, loc: Loc, name: str, out: dict[Loc, str]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join(str(k) for k in (*loc, key))
                raise ConfigError(
                    f"{name}:{line}:{key_node.start_mark.column + 1}: {dotted} is given twice"
                    f" (lines {seen[key]} and {line}); keep one"
                )
            seen[key] = line
            out[(*loc, key)] = f"{name}:{line}:{key_node.start_mark.column + 1}"
            _record_positions(value_node, (*loc, key), name, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*loc, index)] = f"{name}:{item.start_mark.line + 1}:{item.start_mark.column + 1}"
            _record_positions(item, (*loc, index), name, out)


def apply_env(layers: Layers, environ: Mapping[str, str] | None = None) -> None:
    """Apply the seed-compatible environment variables (MODEL, INPUT_LEN, ...)."""
    environ = os.environ if environ is None else environ
    for var, (loc, as_yaml) in ENV_OVERRIDES.items():
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        target = _env_target(layers.data, var, loc)
        if target is None:
            continue
        loc = target
        origin = f"environment variable {var}={shown(var, raw)}"
        layers.set(loc, _parse_value(raw, origin) if as_yaml else raw, origin)


def _env_target(data: dict[str, Any], var: str, loc: Loc) -> Loc | None:
    """Where an environment variable lands: MODEL names the trainer's model in a train-only
    config, and MAX_TOKENS means nothing to a config without a trainer."""
    if var == "MODEL" and "server" not in data and "trainer" in data:
        return ("trainer", "model")
    if var == "MAX_TOKENS" and "trainer" not in data:
        return None
    return loc


def apply_sets(layers: Layers, assignments: Sequence[str]) -> None:
    """Apply `--set a.b=c` assignments in order; values are parsed as YAML."""
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        origin = f"--set {key}={shown(key, raw)}"
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(
                f"--set {shown(key, assignment)!r}: write --set key.path=value,"
                " for example --set workload.num_prompts=50"
            )
        loc: Loc = tuple(int(p) if p.isdigit() else p for p in parts)
        layers.set(loc, _parse_value(raw, origin), origin)


def _parse_value(raw: str, origin: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{origin}: the value is not valid YAML ({problem}); quote it or fix the brackets"
        ) from None
