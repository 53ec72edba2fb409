"""Read the config's layers (file, environment, --set) into one mapping, remembering origins.

Each value keeps where it came from (`file:line:col`, an environment variable, a `--set`),
so that a validation message can point at the place the user has to edit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import safe_yaml
from orchestrator.config.safe_yaml import read_bounded
from orchestrator.config.secrets import shown
from orchestrator.errors import ConfigError

Loc = tuple[str | int, ...]
_DECIMAL = re.compile(r"[+-]?[0-9]+")

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
        with path.open("rb") as handle:
            text = read_bounded(str(path), handle.read)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found; pass -f FILE (see examples/cpu-tiny.yaml)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    data, root = safe_yaml.load(text, str(path))
    if data is None:
        raise ConfigError(f"{path} is empty; start from examples/cpu-tiny.yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1:1: the config must be a mapping of sections (server:, workload:, ...),"
            f" not a {type(data).__name__}"
        )
    layers = Layers(data=data)
    if root is not None:
        _record_positions(root, (), str(path), layers.origins, set())
    return layers


def _record_positions(node: yaml.Node, loc: Loc, name: str, out: dict[Loc, str],
                      seen: set[int]) -> None:
    # A value reached again through an alias keeps the positions of its first appearance.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in keys:
                dotted = ".".join(str(k) for k in (*loc, key))
                raise ConfigError(
                    f"{name}:{line}:{key_node.start_mark.column + 1}: {dotted} is given twice"
                    f" (lines {keys[key]} and {line}); keep one"
                )
            keys[key] = line
            out[(*loc, key)] = f"{name}:{line}:{key_node.start_mark.column + 1}"
            _record_positions(value_node, (*loc, key), name, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*loc, index)] = f"{name}:{item.start_mark.line + 1}:{item.start_mark.column + 1}"
            _record_positions(item, (*loc, index), name, out, seen)


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
        layers.set(loc, _whole_number(raw) if as_yaml else raw, origin)


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


def apply_sweeps(layers: Layers, assignments: Sequence[str]) -> None:
    """Apply `--sweep server.KEY=V1,V2` / `--sweep workload.KEY=V1,V2`: the values (each read
    as YAML) become sweep.SIDE.KEY, replacing what the file had there."""
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        origin = f"--sweep {key}={shown(key, raw)}"
        side, _, field_name = key.strip().partition(".")
        if not sep or side not in ("server", "workload") or not field_name or not raw.strip():
            raise ConfigError(
                f"--sweep {shown(key, assignment)!r}: write --sweep server.FIELD=V1,V2 or"
                " --sweep workload.FIELD=V1,V2, for example --sweep workload.output_len=64,128"
            )
        values = [_parse_value(part.strip(), origin) for part in raw.split(",")]
        layers.set(("sweep", side, field_name), values, origin)


def _whole_number(raw: str) -> Any:
    """An environment value for a number field, read in base 10 (`010` is 10) and only as a
    plain whole number (YAML's `1:30`, `0x10` or `1e3` stay text, which validation refuses)."""
    text = raw.strip()
    if _DECIMAL.fullmatch(text) and sum(ch.isdigit() for ch in text) <= safe_yaml.MAX_DIGITS:
        return int(text, 10)
    return raw


def _parse_value(raw: str, origin: str) -> Any:
    """A --set value, read as YAML within the same bounds as a file."""
    if len(raw) > safe_yaml.MAX_BYTES:
        raise ConfigError(f"{origin[:60]}...: the value is longer than the"
                          f" {safe_yaml.MAX_BYTES // 1024} KiB a config may be")
    try:
        data, _ = safe_yaml.load(raw, origin)
    except ConfigError as exc:
        message = exc.lines[0].removeprefix(origin).lstrip(":0123456789 ")
        if message.startswith("YAML syntax error: "):
            message = message.removeprefix("YAML syntax error: ")
            raise ConfigError(f"{origin}: the value is not valid YAML ({message}); quote it or fix"
                              " the brackets") from None
        raise ConfigError(f"{origin}: {message}") from None
    return data
