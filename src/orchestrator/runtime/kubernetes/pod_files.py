"""Files between this machine and a pod, as tar streams over exec (what `kubectl cp` does):
results copied out, and a resumed trainer's checkpoint sent in (a pod cannot mount a folder of
the machine that runs `orchestrator`).

A copy out ends with a mark printed after tar has exited 0 or 1: an exec's last frames can be lost
between the pod and this machine (seen on the real cluster: a 34 MB copy short by its last
1.2-1.4 MB, whole 32 KiB frames, tar's exit still 0), so a copy without the mark is repeated."""

from __future__ import annotations

import itertools
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from orchestrator.errors import EngineError, StartupError
from orchestrator.plan import CopyLimits
from orchestrator.runtime.archive import safe_extract
from orchestrator.runtime.kubernetes.transport import Transport, exit_code

CHUNK_BYTES = 1 << 20  # one websocket frame per MiB of the archive
DONE_MARK = ".uploaded"  # await_upload.sh lets the trainer start once this exists
END_MARK = b"orchestrator-copy-complete"  # printed after a copy's tar has exited 0 or 1
COPY_TRIES = 3


def copy_from_pod(api: Transport, pod: str, container: str, path: str, dest: Path,
                  keep_tree: bool, replace: bool, limits: CopyLimits) -> list[Path]:
    """Copy the files under `path` in the pod's container into `dest`, extracted safely;
    repeated (up to COPY_TRIES) while the stream arrives cut short. [] when `path` is not
    there (as with Docker's NotFound)."""
    written: list[Path] = []
    for _ in range(COPY_TRIES):
        tail = bytearray()
        stream = _stdout(api.exec_stream(
            # tar's exit 1 (a file changed while read, as when collecting from a running
            # trainer) still leaves a whole archive; 2 does not.
            pod, container, ["sh", "-c", f'tar cf - -C "$1" .; [ $? -le 1 ] && printf'
                             f' {END_MARK.decode()}', "sh", path], binary=True), tail)
        first = next(stream, b"")
        if not first:  # tar found no such folder
            return written
        try:
            safe_extract(itertools.chain([first], stream), dest, skip_existing=not replace,
                         keep_tree=PurePosixPath(path).name if keep_tree else None,
                         limits=limits, written=written)
            failure: EngineError | None = None
        except EngineError as exc:
            failure = exc
        for _rest in stream:  # the rest, past the archive's end: the mark
            pass
        if tail.endswith(END_MARK):
            if failure is not None:
                raise failure
            return written
    raise EngineError(f"the copy of {path} from pod {pod} arrived cut short {COPY_TRIES} times"
                      " (the connection to the API server loses its end); the files copied whole"
                      " were kept")


def _stdout(ws: Any, tail: bytearray) -> Iterator[bytes]:
    """An exec's stdout as it comes; `tail` keeps its last bytes, for the end mark."""
    try:
        while ws.is_open():
            ws.update(timeout=1)
            chunk = ws.read_stdout(timeout=0)
            if chunk:
                _keep_end(tail, chunk)
                yield chunk
        rest = ws.read_stdout(timeout=0)
        if rest:
            _keep_end(tail, rest)
            yield rest
    finally:
        ws.close()


def _keep_end(tail: bytearray, chunk: bytes) -> None:
    """Keep in `tail` the last len(END_MARK) bytes of the stream so far (not a copy of each
    MiB-sized chunk)."""
    tail[:] = (bytes(tail) + chunk[-len(END_MARK):])[-len(END_MARK):]


class _Stdin:
    """A file-like writer onto an exec's stdin, for tarfile's stream mode."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def write(self, data: bytes) -> int:
        self.ws.write_stdin(bytes(data))
        return len(data)


def send_folder_entries(api: Transport, pod: str, container: str, folder: Path,
                        names: tuple[str, ...], dest: str) -> None:
    """Send `names` under `folder` (the ones that exist) into `dest` of the pod's container,
    then mark `dest` done. StartupError when the pod does not take them."""
    argv = ["sh", "-c", f'tar xf - -C "$1" && touch "$1/{DONE_MARK}"', "sh", dest]
    ws = api.exec_stream(pod, container, argv, binary=True, stdin=True)
    try:
        with tarfile.open(fileobj=_Stdin(ws), mode="w|", bufsize=CHUNK_BYTES) as archive:  # type: ignore[call-overload]
            for name in names:
                if (folder / name).exists():
                    archive.add(folder / name, arcname=name)
        ws.close_channel(0)  # end of stdin: tar has its whole archive
        said = b""
        while ws.is_open():
            ws.update(timeout=1)
            said += ws.read_stderr(timeout=0) or b""
        code = exit_code(ws, argv)
    finally:
        ws.close()
    if code != 0:
        text = " ".join(said.decode(errors="replace").split())[:200]
        raise StartupError(f"the trainer pod {pod} could not take the checkpoint from {folder}"
                           f" (tar exited with {code}: {text or 'no message'})")
