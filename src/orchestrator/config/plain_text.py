"""Every text value of a config is plain text: a control character (an escape sequence that
retitles or recolours the terminal, a NUL that cuts a path short) in a model name, an image, a
path or an env value is refused before anything starts, naming the field and showing the
character escaped."""

from __future__ import annotations

from typing import Any

from orchestrator.config.messages import dotted
from orchestrator.config.model import StackSpec
from orchestrator.config.problems import Problem
from orchestrator.config.source import Loc
from orchestrator.terminal import CONTROL, plain


def check_plain_text(spec: StackSpec) -> list[Problem]:
    """Refuse control characters (tab and newline aside) in any text value."""
    return [(loc, f"{dotted(loc)} = '{plain(text)}' holds a control character"
                  f" ({plain(CONTROL.findall(text)[0])}); names, paths and values must be"
                  " plain text: remove it")
            for loc, text in _texts(spec.model_dump(mode="python"), ()) if CONTROL.search(text)]


def _texts(value: Any, loc: Loc) -> list[tuple[Loc, str]]:
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _texts(item, (*loc, str(key)))]
    if isinstance(value, list | tuple):
        return [found for i, item in enumerate(value) for found in _texts(item, (*loc, i))]
    return []
