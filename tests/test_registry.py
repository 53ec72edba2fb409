"""The registry is the one place that knows the runtimes: every per-runtime choice (config
kinds, --runtime, render formats, engines, traits) comes from it, and nothing else asks which
runtime it is in."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest

from conftest import REPO
from orchestrator import runtimes
from orchestrator.config.model import StackSpec
from orchestrator.runtime import registry
from orchestrator.runtime.base import Runtime


def test_config_kinds_and_the_cli_choices_are_the_registry_kinds(cli) -> None:
    schema = StackSpec.model_json_schema()
    assert tuple(schema["$defs"]["Runtime"]["properties"]["kind"]["enum"]) == runtimes.KINDS
    help_text = cli("up", "--help").stdout
    assert all(kind in help_text for kind in runtimes.KINDS)


@pytest.mark.parametrize("kind", runtimes.KINDS)
def test_each_row_names_an_engine_with_the_whole_interface_and_renderers(kind: str) -> None:
    engine = registry.engine_class(kind)
    assert engine.kind == kind
    promised = {name for name, _ in inspect.getmembers(Runtime, inspect.isfunction)}
    assert promised <= set(dir(engine)), promised - set(dir(engine))
    for fmt in runtimes.formats(kind):
        assert callable(registry.renderer(kind, fmt))


def test_nothing_outside_the_registry_compares_runtime_kinds() -> None:
    source = REPO / "src" / "orchestrator"
    hits = [f"{path.relative_to(source)}:{number}"
            for path in source.rglob("*.py") if path.name != "registry.py"
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"kind (==|!=)", line)]
    assert hits == []


def test_config_reads_traits_without_importing_any_engine() -> None:
    probe = ("import sys, orchestrator.config, orchestrator.plan;"
             " print(sorted(m for m in sys.modules if m.split('.')[0] in"
             " ('docker', 'kubernetes') or '.engine' in m))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
