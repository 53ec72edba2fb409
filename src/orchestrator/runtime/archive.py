"""Unpack tar streams from containers and pods without trusting them."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from orchestrator.errors import EngineError
from orchestrator.files import write_atomic


def safe_extract(chunks: Iterable[bytes], dest: Path, skip_existing: bool = True,
                 keep_tree: str | None = None) -> list[Path]:
    """Extract the regular files of a tar stream into `dest`; return the new files.

    Files land flattened into `dest`, unless `keep_tree` names the copied folder: then paths
    below it are kept (Docker's archives start with the folder's own name, `tar -C DIR .`
    archives do not). Refuses absolute paths, `..`, links and device files instead of writing
    them. Each file is written atomically, so a reader never sees half a file.
    """
    data = io.BytesIO(b"".join(chunks))
    written: list[Path] = []
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=data, mode="r:*") as archive:
        for member in archive.getmembers():
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise EngineError(f"refused to extract {member.name!r}: it leaves the target folder")
            if member.issym() or member.islnk() or member.isdev() or member.isfifo():
                raise EngineError(f"refused to extract {member.name!r}: links and devices are not copied")
            if member.isdir():
                continue
            target = dest / (_below(path, keep_tree) if keep_tree else path.name)
            if skip_existing and target.exists():
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            write_atomic(target, source.read())
            written.append(target)
    return written


def _below(path: PurePosixPath, folder: str) -> PurePosixPath:
    parts = path.parts[1:] if path.parts and path.parts[0] == folder else path.parts
    return PurePosixPath(*parts)
