"""The corpus of bad configs: each is refused with exactly its own one-line messages.

Each file in bad_configs/ says what to run and what to expect in its header comments:
`# set: KEY=VALUE` (a --set), `# env: NAME=VALUE` (an environment variable) and one
`# expect: MESSAGE` per problem, where {file} stands for the file's path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "bad_configs"
CASES = sorted(CORPUS.glob("*.yaml"))


def _directives(path: Path) -> tuple[list[str], dict[str, str], list[str]]:
    sets, env, expect = [], {}, []
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("# ").partition(": ")
        if not line.startswith("# "):
            continue
        if key == "set":
            sets.append(value)
        elif key == "env":
            name, _, val = value.partition("=")
            env[name] = val
        elif key == "expect":
            expect.append(value)
    return sets, env, expect


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 110


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_config_is_refused_with_its_message(cli, path: Path) -> None:
    sets, env, expect = _directives(path)
    assert expect, f"{path.name} has no '# expect:' line"
    relative = str(path.relative_to(Path.cwd()))
    args = ["validate", "-f", relative]
    for assignment in sets:
        args += ["--set", assignment]

    result = cli(*args, env=env)

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [f"error: {e.replace('{file}', relative)}" for e in expect]
    assert "Traceback" not in result.stderr


def test_missing_file(cli) -> None:
    result = cli("validate", "-f", "no/such/config.yaml")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: config file no/such/config.yaml not found; pass -f FILE (see examples/cpu-tiny.yaml)\n"
    )


def test_no_default_file(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("validate")
    assert result.exit_code == 1
    assert "no orchestrator.yaml in this folder; pass -f FILE" in result.stderr


def test_bad_config_writes_nothing(cli, tmp_path) -> None:
    out = tmp_path / "out"
    path = str((CORPUS / "context-length-seed-002.yaml").relative_to(Path.cwd()))
    result = cli("render", "bench", "-f", path, "--runtime", "kubernetes", "-o", str(out))
    assert result.exit_code == 1
    assert not out.exists()
