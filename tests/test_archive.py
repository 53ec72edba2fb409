"""Unpacking tar streams from containers and pods without trusting them."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from orchestrator.errors import EngineError
from orchestrator.plan import CopyLimits
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


@pytest.mark.parametrize("tar_format", ["gnu", "pax"])
def test_refuses_a_sparse_member_at_once(tmp_path: Path, tar_format: str) -> None:
    """A few KiB of tar that claim a 2 GiB file (GNU tar --sparse), as a hostile container
    could send: refused at its header, without reading or allocating the 2 GiB."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.json").write_text("{}")
    with (source / "huge").open("wb") as handle:
        handle.truncate(2 * 1024**3)
    data = subprocess.run(["tar", "--sparse", f"--format={tar_format}", "-cf", "-", "-C",
                           str(source), "ok.json", "huge"], capture_output=True, check=True).stdout
    assert len(data) < 64 * 1024
    with pytest.raises(EngineError, match="sparse files are not copied; the 1 file"):
        safe_extract([data], tmp_path / "dest")
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["ok.json"]


def test_a_truncated_stream_is_one_error_and_keeps_what_was_copied(tmp_path: Path) -> None:
    data = _tar(("run/a.json", None, b"{}"), ("run/b.json", None, b"x" * 5000))
    with pytest.raises(EngineError, match=r"not a valid tar stream .*the 1 file\(s\) copied before it were kept"):
        safe_extract([data[:1536 + 1024]], tmp_path)
    assert (tmp_path / "a.json").read_text() == "{}"
    assert not (tmp_path / "b.json").exists()


def test_caps_each_file_and_the_total(tmp_path: Path) -> None:
    data = _tar(("run/a", None, b"x" * 100), ("run/b", None, b"y" * 100))
    with pytest.raises(EngineError, match="over the 50 bytes allowed for one file"):
        safe_extract([data], tmp_path / "one", limits=CopyLimits(max_file_bytes=50))
    with pytest.raises(EngineError, match="over the 150 bytes allowed in all"):
        safe_extract([data], tmp_path / "all", limits=CopyLimits(max_total_bytes=150))
    assert [p.name for p in (tmp_path / "all").iterdir()] == ["a"]


def test_refuses_two_members_that_land_on_one_file(tmp_path: Path) -> None:
    data = _tar(("run/x/r.json", None, b"1"), ("run/y/r.json", None, b"2"))
    with pytest.raises(EngineError, match=r"another file of the copy already landed on r\.json"):
        safe_extract([data], tmp_path)
    assert sorted(p.as_posix() for p in safe_extract([data], tmp_path / "tree", keep_tree="run")) == [
        f"{tmp_path}/tree/x/r.json", f"{tmp_path}/tree/y/r.json"]


def test_never_writes_through_a_link_in_the_destination(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "r.json").symlink_to(outside / "victim")
    with pytest.raises(EngineError, match="is a link, and links in the destination are not followed"):
        safe_extract([_tar(("run/r.json", None, b"evil"))], dest, skip_existing=False)
    (dest / "sub").symlink_to(outside)
    with pytest.raises(EngineError, match="is a link"):
        safe_extract([_tar(("run/sub/f", None, b"evil"))], dest, keep_tree="run")
    assert list(outside.iterdir()) == []


def test_write_failures_are_one_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="a name is too long for this file system"):
        safe_extract([_tar(("run/" + "n" * 300, None, b"x"))], tmp_path)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(EngineError, match="could not write the copied files"):
        safe_extract([_tar(("run/d.json", None, b"x"))], tmp_path, skip_existing=False)
