"""Turn pydantic's validation errors into one line each, in the user's words.

pydantic reports a location such as ('server', 'gpus', 'list[int]', 1) where 'list[int]' is
the union branch it tried; the user wrote `server.gpus[1]`. We walk the model alongside the
location to drop branch names, and when one branch of a union got further than the others
(the value had that branch's shape), only that branch's errors are reported.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestrator.config.secrets import REDACTED, REFERENCE_FIELDS, cut, is_secret_name, secret_text
from orchestrator.config.source import Loc

_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number (not NaN or infinity)",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text (put it in quotes)",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}


def format_validation_error(exc: ValidationError, root: type[BaseModel]) -> list[tuple[Loc, str]]:
    """Return (location, message) pairs, one per problem, for a failed validation of `root`."""
    cleaned = [(_clean_loc(root, err["loc"]), err) for err in exc.errors()]
    # A type error at a location with deeper errors below it is a union branch that did not
    # match; the deeper ones belong to the branch that did, and say what to fix.
    deeper = {loc[:i] for loc, _ in cleaned for i in range(len(loc))}
    kept = [(loc, err) for loc, err in cleaned if not (loc in deeper and err["type"] in _EXPECTED)]

    grouped: dict[Loc, list[dict[str, Any]]] = {}
    for loc, err in kept:
        grouped.setdefault(loc, []).append(dict(err))
    return [(loc, _message(root, loc, errs)) for loc, errs in grouped.items()]


def dotted(loc: Sequence[str | int]) -> str:
    """Write a location the way the user writes it: `server.gpus[1]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def show(value: Any, loc: Sequence[str | int] = ()) -> str:
    """A short, readable rendering of a user's value; never a secret's (a value under a
    secret-named key or an hf_token field, or one shaped like a credential)."""
    text = repr(value) if isinstance(value, str) else str(value)
    last = loc[-1] if loc else ""
    secret_place = isinstance(last, str) and (
        last == "hf_token" or (is_secret_name(last) and last not in REFERENCE_FIELDS))
    # The value itself is tested, not its repr (a quote before it hid a URL's password).
    if (secret_place and value not in (None, "")) or secret_text(str(value)):
        return REDACTED
    return cut(text)


def _message(root: type[BaseModel], loc: Loc, errs: list[dict[str, Any]]) -> str:
    name = dotted(loc)
    first = errs[0]
    error = first["type"]
    if error == "extra_forbidden":
        return _unknown_key(root, loc)
    if error == "missing":
        return f"{name} is missing; add it under {dotted(loc[:-1]) or 'the top level'}"
    value = show(first.get("input"), loc)
    if error in _BOUNDS:
        key, symbol = _BOUNDS[error]
        limit = first["ctx"][key]
        hint = "; ports are 1-65535" if loc[-1] in ("port", "host_port") else ""
        return f"{name} = {value} is out of range: it must be {symbol} {limit}{hint}"
    if error == "value_error":
        reason = str(first["ctx"]["error"]) if "ctx" in first else first["msg"]
        return f"{name} = {value} {reason}"
    expected: list[str] = []
    for err in errs:
        if err["type"] == "literal_error":
            words = err["ctx"]["expected"]
            expected.append(f"one of {words}" if " or " in words else words)
        else:
            expected.append(_EXPECTED.get(err["type"], err["msg"].removeprefix("Input should be ")))
    text = f"{name} = {value} must be {' or '.join(dict.fromkeys(expected))}"
    if error == "literal_error" and isinstance(first.get("input"), str):
        options = [o.strip(" '") for o in first["ctx"]["expected"].replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(first["input"], options, n=1)
        if close:
            text += f"; did you mean {close[0]}?"
    return text


def _unknown_key(root: type[BaseModel], loc: Loc) -> str:
    parent = _model_at(root, loc[:-1])
    key = str(loc[-1])
    where = dotted(loc[:-1]) or "the top level"
    if parent is None:
        return f"unknown key {dotted(loc)}; remove it"
    valid = list(parent.model_fields)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        return f"unknown key {dotted(loc)}; did you mean {dotted((*loc[:-1], close[0]))}?"
    return f"unknown key {dotted(loc)}; valid keys under {where}: {', '.join(valid)}"


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    annotation: Any = root
    for part in loc:
        model = _models_in(annotation)
        if not model or not isinstance(part, str) or part not in model[0].model_fields:
            return None
        annotation = model[0].model_fields[part].annotation
    found = _models_in(annotation)
    return found[0] if found else None


def _clean_loc(root: type[BaseModel], raw: Sequence[str | int]) -> Loc:
    """Drop pydantic's union-branch names from a location."""
    out: list[str | int] = []
    annotation: Any = root
    skip_tag = False
    for part in raw:
        if skip_tag:
            skip_tag = False
            annotation = _branch(annotation, part)
            continue
        out.append(part)
        annotation = _child(annotation, part)
        skip_tag = _is_union(annotation)
    return tuple(out)


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        branches = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(branches) == 1:  # Optional[X] is reported without a branch name
            return _strip(branches[0])
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(_strip(annotation)) in (typing.Union, types.UnionType)


def _branch(annotation: Any, tag: str | int) -> Any:
    for branch in typing.get_args(_strip(annotation)):
        branch = _strip(branch)
        name = getattr(branch, "__name__", "")
        if tag == name or (isinstance(tag, str) and tag.startswith(f"{name}[")):
            return branch
    return None


def _child(annotation: Any, part: str | int) -> Any:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
