"""Hostile input that is not a config file of the corpus: endless or binary files, huge logs,
paths and text with markup or terminal escapes. Each gets one clear line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_config


def _one_clean_error(result, *needles: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: ")
    for needle in needles:
        assert needle in result.stderr


def test_an_endless_file_is_read_no_further_than_the_limit(cli) -> None:
    _one_clean_error(cli("validate", "-f", "/dev/zero"), "/dev/zero is larger than 1024 KiB")


def test_a_large_or_binary_file(cli, tmp_path: Path) -> None:
    large = tmp_path / "large.yaml"
    large.write_text("server:\n  model: m\n" + "# padding\n" * 120_000)
    _one_clean_error(cli("validate", "-f", str(large)), "is larger than 1024 KiB")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    _one_clean_error(cli("validate", "-f", str(binary)), "is not UTF-8 text")


def test_environment_numbers_are_read_in_base_ten() -> None:
    loaded = load_config(Path("examples/cpu-tiny.yaml"), environ={"NUM_PROMPTS": "010"})
    assert loaded.spec.workload.num_prompts == 10


def test_a_binary_kubeconfig_is_one_line(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(bytes(range(256)) * 8)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    _one_clean_error(cli("ps", "-p", "x", "--runtime", "kubernetes"),
                     "no usable Kubernetes configuration (the kubeconfig file is not text)")


def test_markup_and_escapes_in_paths_are_printed_as_text(cli, tmp_path: Path) -> None:
    out = tmp_path / "out[/]\x1b]0;title\x07"
    result = cli("render", "bench", "-f", "examples/cpu-tiny.yaml", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "out[/]\\x1b]0;title\\x07" in result.stderr and "\x1b" not in result.stderr
    missing = cli("validate", "-f", str(tmp_path / "[bold]no\x1b[2J.yaml"))
    _one_clean_error(missing, "[bold]no\\x1b[2J.yaml not found")


@pytest.mark.parametrize(("field", "value"), [
    ("server.model", '"\\e]0;title\\a/models/x"'),  # an OSC title sequence
    ("client.image", '"img\\x00:1"'),
    ("server.env", '{"A": "x\\x1b[2Jy"}'),
])
def test_control_characters_in_config_values_are_refused(cli, field: str, value: str) -> None:
    result = cli("validate", "-f", "examples/cpu-tiny.yaml", "--set", f"{field}={value}")
    _one_clean_error(result, f"{field}", "holds a control character",
                     "must be plain text: remove it")
    assert "valid:" not in result.stdout + result.stderr
    tab = cli("validate", "-f", "examples/cpu-tiny.yaml", "--set", 'server.env={"A": "x\\ty"}')
    assert tab.exit_code == 0, tab.stderr


@pytest.mark.parametrize("line", [
    "LLM Generation: " + "9" * 400 + "ms | Tokens: 1 in / 5 out",
    "LLM Generation: 12ms | Tokens: 1 in / " + "9" * 400 + " out",
    "LLM Generation: 1e-320ms | Tokens: 1 in / 5 out",
    "LLM Generation: 0.0ms | Tokens: 0 in / 0 out",
    "LLM Generation: 0.000001ms | Tokens: 1 in / 999999999999 out",
    "LLM Output: \"\x1b]0;pwned\x07\"",
])
def test_analyze_rollouts_takes_hostile_lines(cli, tmp_path: Path, line: str) -> None:
    log = tmp_path / "rollouts.log"
    log.write_text("LLM Generation: 100ms | Tokens: 10 in / 20 out\n" + line + "\n")
    for extra in ([], ["--json"], ["--max-tokens", "10", "--show-raw-output"]):
        result = cli("analyze", "rollouts", str(log), *extra)
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout
