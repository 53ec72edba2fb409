"""Unpacking tar streams from containers and pods without trusting them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from orchestrator.errors import EngineError
from orchestrator.runtime.archive import safe_extract


def _tar(*members: tuple[str, bytes | None, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, link, data in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link.decode()
            else:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if link is None else None)
    return buffer.getvalue()


def test_extracts_regular_files_flat_and_only_new_ones(tmp_path: Path) -> None:
    data = _tar(("run/results_1.json", None, b"{}"), ("run/results_4.json", None, b"[]"))
    assert sorted(p.name for p in safe_extract([data], tmp_path)) == ["results_1.json", "results_4.json"]
    assert (tmp_path / "results_4.json").read_bytes() == b"[]"
    assert safe_extract([data], tmp_path) == []  # already home: not copied again


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (("/etc/passwd", None, b"x"), "it leaves the target folder"),
        (("run/../../evil", None, b"x"), "it leaves the target folder"),
        (("run/link", b"/etc/shadow", b""), "links and devices are not copied"),
    ],
)
def test_refuses_unsafe_members(tmp_path: Path, member, why) -> None:
    with pytest.raises(EngineError, match=why):
        safe_extract([_tar(member)], tmp_path / "dest")
    assert not any((tmp_path / "dest").iterdir())
