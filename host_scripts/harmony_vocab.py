#!/usr/bin/env python3
"""Write Harmony's vocabulary file (o200k_base.tiktoken) for serving gpt-oss with no network.

    harmony_vocab.py OUT_DIR        # then: export TIKTOKEN_ENCODINGS_BASE=OUT_DIR

vLLM serving a gpt-oss model loads OpenAI's Harmony encoding at start-up, and openai_harmony
downloads o200k_base.tiktoken from openaipublic.blob.core.windows.net unless
TIKTOKEN_ENCODINGS_BASE names a folder that holds it. No container registry or blob store is
reachable here, but npm is: the `tiktoken` npm package ships the same ranks in its own
compressed form, which this script turns back into the .tiktoken file and checks against the
sha256 that openai_harmony itself expects, so a wrong file is never written.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

NPM_PACKAGE = "tiktoken@1.0.22"
MEMBER = "package/encoders/o200k_base.json"
FILE_NAME = "o200k_base.tiktoken"
# The hash openai_harmony 0.0.8 (and tiktoken's openai_public.py) expects of o200k_base.tiktoken.
SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # the real member is ~2.3 MB


class VocabError(Exception):
    """The package could not be fetched, or what it holds is not the expected vocabulary."""


def ranks_to_tiktoken(bpe_ranks: str) -> bytes:
    """npm tiktoken's `bpe_ranks` text as a .tiktoken file: each of its lines is
    `<marker> <first rank> <base64 token> <base64 token> ...` with consecutive ranks; the file
    has one `<base64 token> <rank>` line per token, in rank order."""
    ranks: dict[int, str] = {}
    for number, line in enumerate(bpe_ranks.split("\n"), 1):
        if not line:
            continue
        fields = line.split(" ")
        if len(fields) < 2 or not fields[1].isdigit():
            raise VocabError(f"bpe_ranks line {number}: expected '<marker> <rank> <token>...'")
        first = int(fields[1])
        for offset, token in enumerate(fields[2:]):
            try:
                base64.b64decode(token, validate=True)
            except ValueError:
                raise VocabError(f"bpe_ranks line {number}: a token is not base64") from None
            if ranks.setdefault(first + offset, token) != token:
                raise VocabError(f"bpe_ranks line {number}: rank {first + offset} given twice")
    if sorted(ranks) != list(range(len(ranks))):
        raise VocabError("bpe_ranks: the ranks are not 0..N-1 without gaps")
    return "".join(f"{ranks[rank]} {rank}\n" for rank in range(len(ranks))).encode()


def checked(content: bytes, sha256: str = SHA256) -> bytes:
    """`content` if its sha256 is the expected one, else a VocabError naming both."""
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise VocabError(f"{FILE_NAME}: sha256 {digest}, expected {sha256}")
    return content


def member_from_tarball(tarball: bytes) -> bytes:
    """The encoder JSON from an npm package tarball, read with a size bound."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            info = archive.getmember(MEMBER)
        except KeyError:
            raise VocabError(f"{NPM_PACKAGE}: the package has no {MEMBER}") from None
        if not info.isfile() or info.size > MAX_MEMBER_BYTES:
            raise VocabError(f"{NPM_PACKAGE}: {MEMBER} is not a file of at most "
                             f"{MAX_MEMBER_BYTES} bytes")
        handle = archive.extractfile(info)
        assert handle is not None  # isfile() above
        return handle.read()


def fetch_tarball(work: Path) -> bytes:
    """`npm pack` the package into `work` and return the tarball's bytes."""
    try:
        done = subprocess.run(["npm", "pack", NPM_PACKAGE, "--pack-destination", str(work)],
                              capture_output=True, text=True, timeout=300, check=False)
    except FileNotFoundError:
        raise VocabError("npm is not installed (apt-get install -y npm)") from None
    tarballs = list(work.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise VocabError(f"npm pack {NPM_PACKAGE} failed: {last}")
    return tarballs[0].read_bytes()


def write_vocab(out_dir: Path) -> Path:
    """Fetch, convert, check and write OUT_DIR/o200k_base.tiktoken (atomically)."""
    with tempfile.TemporaryDirectory() as work:
        encoder = json.loads(member_from_tarball(fetch_tarball(Path(work))))
    ranks = encoder.get("bpe_ranks") if isinstance(encoder, dict) else None
    if not isinstance(ranks, str):
        raise VocabError(f"{NPM_PACKAGE}: {MEMBER} holds no bpe_ranks text")
    content = checked(ranks_to_tiktoken(ranks))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / FILE_NAME
    partial = out_dir / f".{FILE_NAME}.partial"
    partial.write_bytes(content)
    os.replace(partial, target)
    return target


def main() -> int:
    """Write the file and say which variable to set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    try:
        target = write_vocab(args.out_dir)
    except (VocabError, OSError, ValueError) as error:  # ValueError: the member is not JSON
        print(f"harmony_vocab.py: {error}", file=sys.stderr)
        return 1
    print(f"{target} (sha256 {SHA256[:12]}...): export TIKTOKEN_ENCODINGS_BASE={target.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
