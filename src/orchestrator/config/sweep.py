"""The sweep matrix: `sweep:` expanded into server variants x workload variants x concurrencies,
every combination validated by the same rules as a plain config before anything starts.

A server variant restarts the server; a workload variant runs on the warm server. `link` ties
a workload field to a server field of the same variant (vLLM's `--link-vars`).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from pydantic import ValidationError

from orchestrator.config.checks import cross_check
from orchestrator.config.messages import format_validation_error, show
from orchestrator.config.model import MAX_POINTS, Server, StackSpec, Sweep, Workload
from orchestrator.config.problems import Problem
from orchestrator.config.sweep_matrix import SIDES, Matrix, ServerVariant, WorkloadVariant

FLAG_PREFIX = "flags."
MAX_VARIANTS = 1000  # on each side, before the product with the other


def expand(spec: StackSpec) -> tuple[Matrix | None, list[Problem]]:
    """The spec's sweep matrix (a plain config is a matrix of one variant), or the problems
    that refuse it, each naming the combination it comes from."""
    sweep = spec.sweep
    base = _base_data(spec)
    problems: list[Problem] = []
    sides: dict[str, list[dict[str, Any]]] = {}
    for side in SIDES:
        combos, side_problems = _combinations(side, getattr(sweep, side), spec)
        sides[side] = combos
        problems += side_problems
    problems += _link_problems(sweep)
    if problems:
        return None, problems
    total = len(sides["server"]) * len(sides["workload"])
    if total > MAX_POINTS:
        return None, [(("sweep",), f"sweep makes {len(sides['server'])} server x"
                       f" {len(sides['workload'])} workload variants = {total}; a sweep has at"
                       f" most {MAX_POINTS} points: take fewer values")]

    variants: list[ServerVariant] = []
    workloads: dict[int, list[WorkloadVariant]] = {}
    for s_index, server_settings in enumerate(sides["server"]):
        rows: list[WorkloadVariant] = []
        variant_spec: StackSpec | None = None
        for w_index, work_settings in enumerate(sides["workload"]):
            data = _apply(base, server_settings, work_settings, sweep.link)
            label = _label(s_index, server_settings, w_index, work_settings, sides)
            blame = (("sweep", "workload", next(iter(work_settings))) if work_settings else
                     ("sweep", "server", next(iter(server_settings))) if server_settings else
                     ("sweep",))
            combo, combo_problems = _validate(data, label, blame)
            if combo_problems:
                problems += combo_problems
                continue
            assert combo is not None
            variant_spec = variant_spec or combo
            rows.append(WorkloadVariant(w_index, work_settings, combo.workload))
        if variant_spec is not None:
            variants.append(ServerVariant(s_index, server_settings, variant_spec))
            workloads[s_index] = rows
    if problems:
        return None, problems[:20]
    matrix = Matrix(variants, workloads, sweep.repeats, sweep.parallel,
                    {side: sorted({k for s in sides[side] for k in s}) for side in SIDES},
                    sweep.search)
    return matrix, _repeats(matrix)


def _base_data(spec: StackSpec) -> dict[str, Any]:
    """The config as data again (only what was set, so defaults apply anew), without sweep."""
    return spec.model_dump(mode="json", exclude_unset=True, exclude={"sweep"}, by_alias=True)


def _combinations(side: str, given: dict[str, list[Any]] | list[dict[str, Any]],
                  spec: StackSpec) -> tuple[list[dict[str, Any]], list[Problem]]:
    """A side's variants as settings mappings ([{}] when it does not vary)."""
    problems: list[Problem] = []
    if isinstance(given, dict):
        if not given:
            return [{}], []
        for key, values in given.items():
            if not values:
                problems.append((("sweep", side, key), f"sweep.{side}.{key} is empty: a sweep of"
                                 " 0 points; give at least one value"))
        keys = list(given)
        size = 1
        for values in given.values():
            size *= max(1, len(values))
        if size > MAX_VARIANTS:
            problems.append((("sweep", side), f"sweep.{side} makes {size} variants; at most"
                             f" {MAX_VARIANTS}: take fewer values"))
            return [], problems
        combos = [dict(zip(keys, values, strict=True))
                  for values in itertools.product(*given.values())]
    else:
        if not given:
            problems.append((("sweep", side), f"sweep.{side} is an empty list: a sweep of 0"
                             " points; give at least one variant, or leave it out"))
        if len(given) > MAX_VARIANTS:
            problems.append((("sweep", side), f"sweep.{side} has {len(given)} variants; at most"
                             f" {MAX_VARIANTS}"))
            return [], problems
        combos = [dict(item) for item in given]
    for index, combo in enumerate(combos if isinstance(given, list) else combos[:1]):
        where = ("sweep", side, index) if isinstance(given, list) else ("sweep", side)
        problems += _key_problems(side, combo, where, spec)
    if spec.server is None and side == "server" and combos != [{}]:
        problems.append((("sweep", "server"), "sweep.server varies a server, but the config has"
                         " none; add server: or drop sweep.server"))
    return combos, problems


# Workload fields one run keeps: its dataset file is mounted into the client once.
FIXED_WORKLOAD = ("dataset", "dataset_path")


def _key_problems(side: str, settings: dict[str, Any], where: tuple[str | int, ...],
                  spec: StackSpec) -> list[Problem]:
    model = Server if side == "server" else Workload
    valid = sorted(model.model_fields)
    problems: list[Problem] = []
    for key in settings:
        if side == "server" and key.startswith(FLAG_PREFIX):
            name = key.removeprefix(FLAG_PREFIX)
            if not name or name.startswith("-") or " " in name:
                problems.append(((*where, key), f"sweep.{side}.{key}: write flags.NAME with the"
                                 " vLLM flag's name without dashes, such as"
                                 " flags.enable-prefix-caching"))
        elif side == "workload" and key in FIXED_WORKLOAD:
            problems.append(((*where, key), f"sweep.workload varies {key!r}; the dataset file"
                             " reaches the client once per run: run one config per dataset"))
        elif key not in model.model_fields:
            problems.append(((*where, key), f"sweep.{side} varies {key!r}, which is not a"
                             f" {side} field; valid: {', '.join(valid)}"
                             + (", flags.NAME" if side == "server" else "")))
    return problems


def _link_problems(sweep: Sweep) -> list[Problem]:
    problems: list[Problem] = []
    for target, source in sweep.link.items():
        t_side, _, t_key = target.partition(".")
        s_side, _, s_key = source.partition(".")
        if t_side != "workload" or t_key not in Workload.model_fields:
            problems.append((("sweep", "link", target), f"sweep.link key {target!r} must be a"
                             " workload field, such as workload.concurrency"))
        elif s_side != "server" or s_key not in Server.model_fields:
            problems.append((("sweep", "link", target), f"sweep.link.{target} = {source!r} must"
                             " be a server field, such as server.max_num_seqs"))
        elif (isinstance(sweep.workload, dict) and t_key in sweep.workload) or (
                isinstance(sweep.workload, list) and any(t_key in w for w in sweep.workload)):
            problems.append((("sweep", "link", target), f"sweep.link ties {target} to {source},"
                             f" but sweep.workload also varies {t_key}; drop one"))
    return problems


def _apply(base: dict[str, Any], server: dict[str, Any], work: dict[str, Any],
           link: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(base))  # a deep copy of plain data
    section = data.setdefault("server", {})
    for key, value in server.items():
        if key.startswith(FLAG_PREFIX):
            if value is not False and value is not None:
                flag = [f"--{key.removeprefix(FLAG_PREFIX)}"]
                flag += [] if value is True else [_flag_text(value)]
                section["extra_args"] = [*section.get("extra_args", []), *flag]
        else:
            section[key] = value
    workload = data.setdefault("workload", {})
    workload.update(work)
    for target, source in link.items():
        value = section.get(source.partition(".")[2],
                            Server.model_fields[source.partition(".")[2]].default)
        key = target.partition(".")[2]
        workload[key] = [value] if key == "concurrency" else value
    return data


def _flag_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _validate(data: dict[str, Any], label: str,
              blame: tuple[str, ...]) -> tuple[StackSpec | None, list[Problem]]:
    try:
        spec = StackSpec.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc, StackSpec)
    else:
        problems = cross_check(spec)
        if not problems:
            return spec, []
    return None, [(blame, f"{label}: {message}") for _, message in problems]


def _label(s_index: int, server: dict[str, Any], w_index: int, work: dict[str, Any],
           sides: dict[str, list[dict[str, Any]]]) -> str:
    parts = []
    if len(sides["server"]) > 1 or server:
        parts.append(f"server[{s_index}]" + (f" ({settings_text(server)})" if server else ""))
    if len(sides["workload"]) > 1 or work:
        parts.append(f"workload[{w_index}]" + (f" ({settings_text(work)})" if work else ""))
    return "sweep " + " x ".join(parts) if parts else "the config"


def settings_text(settings: dict[str, Any]) -> str:
    """`k=v, k=v` for messages and tables (values shown as the config would, secrets hidden)."""
    return ", ".join(f"{key}={show(value, (key,))}" for key, value in settings.items())


def _repeats(matrix: Matrix) -> list[Problem]:
    """A sweep that measures one point twice (two equal variants, a repeated concurrency) is
    refused: `repeats` is the way to measure again."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for variant in matrix.variants:
        assert variant.spec.server is not None
        key = variant.spec.server.model_dump_json()
        if key in seen:
            problems.append((("sweep", "server"), f"sweep server[{variant.index}] is the same"
                             f" server as server[{seen[key]}]: drop one (use sweep.repeats to"
                             " measure again)"))
        seen[key] = variant.index
    for variant in matrix.variants[:1]:
        works: dict[str, int] = {}
        for work in matrix.workloads[variant.index]:
            key = work.workload.model_dump_json(exclude={"concurrency"})
            if key in works:
                problems.append((("sweep", "workload"), f"sweep workload[{work.index}] is the"
                                 f" same workload as workload[{works[key]}]: drop one"))
            works[key] = work.index
    total = len(matrix.all_points)
    if total > MAX_POINTS and not problems:
        problems.append((("sweep",), f"the sweep makes {total} points; a run has at most"
                         f" {MAX_POINTS}: take fewer values or a larger concurrency step"))
    return problems
