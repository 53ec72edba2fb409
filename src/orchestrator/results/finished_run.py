"""Reading a finished bench run's rows and variants back from its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.analysis.compare import read_rows
from orchestrator.errors import ConfigError


def read_run(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary rows, variants) of a run folder; ConfigError when it is not a bench run."""
    rows = read_rows(folder)
    try:
        variants = json.loads((folder / "variants.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{folder}: no readable variants.json; give a bench run folder such as"
                          " bench_results/20261127-101500-ab12") from None
    if not isinstance(variants, list):
        raise ConfigError(f"{folder}/variants.json is not a list of variants")
    return rows, variants
