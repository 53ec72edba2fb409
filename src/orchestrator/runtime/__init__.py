"""Runtimes: where a plan runs (docker, kubernetes, local), all behind one interface.

None is implemented yet; asking for one says so and exits 2, never a fake success.
"""

from __future__ import annotations

from typing import NoReturn

from orchestrator.errors import NotImplementedYet


def get_runtime(kind: str, verb: str) -> NoReturn:
    """Return the runtime for `kind`; today every kind is still to be built."""
    raise NotImplementedYet(
        f"the {kind} runtime is not implemented yet, so `orchestrator {verb}` cannot run;"
        " `orchestrator render bench --runtime docker|kubernetes` shows what it will create"
    )
