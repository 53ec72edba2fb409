"""Unpack tar streams from containers and pods without trusting them.

A container is a process we do not control: its archive may be truncated, huge, sparse, full of
links, or name the same file twice. Extraction streams member by member (never the whole archive
in memory), caps each file and the total, writes each file atomically, never writes through a
link that is already in the destination, and turns every failure into one EngineError; the
files written before the failure stay.
"""

from __future__ import annotations

import errno
import io
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from orchestrator.errors import EngineError
from orchestrator.plan import CopyLimits

_CHUNK = 1024 * 1024

def safe_extract(chunks: Iterable[bytes], dest: Path, skip_existing: bool = True,
                 keep_tree: str | None = None, limits: CopyLimits | None = None,
                 written: list[Path] | None = None) -> list[Path]:
    """Extract the regular files of a tar stream into `dest`; return the new files.

    Files land flattened into `dest`, unless `keep_tree` names the copied folder: then paths
    below it are kept (Docker's archives start with the folder's own name, `tar -C DIR .`
    archives do not). Refuses absolute paths, `..`, links, devices, sparse files, two members
    that land on the same file, and anything over `limits`. Files already in `dest` are kept
    (`skip_existing`), so a copy repeated after each sweep point brings only the new ones.
    The new files are also appended to `written` when given, so that a caller still has them
    when the copy fails half-way.
    """
    limits = limits or CopyLimits()
    written = [] if written is None else written
    try:
        dest.mkdir(parents=True, exist_ok=True)
        stream = io.BufferedReader(_ChunkReader(iter(chunks)), buffer_size=_CHUNK)
        _extract(stream, dest, skip_existing, keep_tree, limits, written)
    except EngineError as exc:
        raise EngineError(f"{exc.lines[0]}; {_kept(written)}") from None
    except tarfile.TarError as exc:
        raise EngineError(f"the archive from the component is not a valid tar stream ({exc});"
                          f" {_kept(written)}") from None
    except OSError as exc:
        reason = "a name is too long for this file system" if exc.errno == errno.ENAMETOOLONG \
            else (exc.strerror or str(exc))
        raise EngineError(f"could not write the copied files into {dest}: {reason};"
                          f" {_kept(written)}") from None
    return written


def _extract(stream: IO[bytes], dest: Path, skip_existing: bool, keep_tree: str | None,
             limits: CopyLimits, written: list[Path]) -> None:
    total = 0
    targets: set[Path] = set()
    with tarfile.open(fileobj=stream, mode="r|*") as archive:
        for member in archive:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise EngineError(f"refused to extract {member.name!r}: it leaves the target folder")
            if member.issym() or member.islnk() or member.isdev() or member.isfifo():
                raise EngineError(f"refused to extract {member.name!r}: links and devices are not copied")
            if member.issparse():
                raise EngineError(f"refused to extract {member.name!r}: sparse files are not copied")
            if member.isdir() or not member.isfile():
                continue
            if member.size > limits.max_file_bytes:
                raise EngineError(f"refused to extract {member.name!r}: {member.size} bytes is over"
                                  f" the {limits.max_file_bytes} bytes allowed for one file"
                                  " (runtime.results_copy.max_file)")
            total += member.size
            if total > limits.max_total_bytes:
                raise EngineError(f"refused to extract {member.name!r}: the copy is over the"
                                  f" {limits.max_total_bytes} bytes allowed in all"
                                  " (runtime.results_copy.max_total)")
            relative = _below(path, keep_tree) if keep_tree else PurePosixPath(path.name)
            target = dest.joinpath(*relative.parts)
            if target in targets:
                raise EngineError(f"refused to extract {member.name!r}: another file of the copy"
                                  f" already landed on {target.name}")
            targets.add(target)
            _refuse_links(dest, target)
            if skip_existing and target.exists():
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            _write_stream(target, source, member.size)
            written.append(target)


def _refuse_links(dest: Path, target: Path) -> None:
    """Never write through a link already in the destination (the file or a folder above it)."""
    current = target
    while current != dest:
        if current.is_symlink():
            raise EngineError(f"refused to write {target}: {current} is a link, and links in the"
                              " destination are not followed")
        current = current.parent


def _write_stream(target: Path, source: IO[bytes], size: int) -> None:
    """Copy at most `size` bytes to `target` through a temporary file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            left = size
            while left > 0:
                block = source.read(min(_CHUNK, left))
                if not block:
                    break
                handle.write(block)
                left -= len(block)
            if left:  # never a short file under the member's name
                raise tarfile.ReadError("unexpected end of data")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _kept(written: list[Path]) -> str:
    return f"the {len(written)} file(s) copied before it were kept" if written else "nothing was copied"


def _below(path: PurePosixPath, folder: str) -> PurePosixPath:
    parts = path.parts[1:] if path.parts and path.parts[0] == folder else path.parts
    return PurePosixPath(*parts)


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (a tar stream arriving over HTTP)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size
