"""The package's layers: each module imports only from its own layer and those below, type-only
imports (under TYPE_CHECKING) included, so there is no import cycle and the folder layout is
the pipeline: config is read, planned, run by a runtime, its results analysed, by a stack, from
the CLI."""

from __future__ import annotations

import ast

from conftest import REPO

SOURCE = REPO / "src" / "orchestrator"
# Lowest first; a unit is a top-level module or package of orchestrator.
LAYERS = [
    {"__init__", "errors", "names", "terminal", "files", "resources", "readiness", "rendered"},
    {"runtimes", "serving", "analysis"},
    {"config"},
    {"fit", "plan"},
    {"runtime", "results"},
    {"stacks"},
    {"cli", "__main__"},
]


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit in units)


def upward_imports() -> list[str]:
    """Every import of a module above the importing module's layer, as 'file:line -> module'."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).with_suffix("")
        unit = relative.parts[0] if len(relative.parts) > 1 else relative.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] == "orchestrator" and \
                        _layer(_unit(module)) > _layer(unit):
                    found.append(f"{relative}:{node.lineno} -> {module}")
    return found


def test_every_unit_has_a_layer() -> None:
    units = {p.relative_to(SOURCE).parts[0].removesuffix(".py") for p in SOURCE.iterdir()
             if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert units == set().union(*LAYERS)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward_imports() == []


MAX_LINES = 350  # a module past this holds more than one job: split it by job


def test_no_module_is_longer_than_350_lines() -> None:
    long = {str(p.relative_to(SOURCE)): n for p in sorted(SOURCE.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
