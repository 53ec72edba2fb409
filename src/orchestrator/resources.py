"""Locate the data folders (k8s/, container_scripts/, images/) shipped with the package."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_DATA_FOLDERS = ("k8s", "container_scripts", "images")


def data_dir(name: str) -> Path:
    """Return the folder `name`: inside an installed wheel, or at the top of a source checkout.

    A wheel carries the folders under `orchestrator/_data/`; an editable install or a plain
    checkout reads them from the repository root, where people edit them.
    """
    if name not in _DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}")
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the {name}/ folder is missing from this installation; reinstall orchestrator"
    )
