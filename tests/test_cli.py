"""The command line: help that teaches, exit codes scripts can trust, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import EXAMPLES, REPO

TINY = str(EXAMPLES / "cpu-tiny.yaml")
SEED = str(EXAMPLES / "seed-002-gpt-oss-120b.yaml")
COMMANDS = [["validate"], ["render"], ["up"], ["down"], ["ps"], ["logs"], ["config", "show"],
            ["config", "schema"], ["analyze", "rollouts"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(cli, command) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "orchestrator " + command[0] in result.stdout


def test_help_stays_light() -> None:
    """`--help` must not import docker, kubernetes, pydantic or jinja2 (they are slow)."""
    code = (
        "import sys\n"
        "from orchestrator.cli import app\n"
        "try:\n"
        "    app(['--help'], prog_name='orchestrator')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('docker', 'kubernetes', 'pydantic', 'jinja2') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stdout


def test_python_dash_m_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.startswith("orchestrator 0.")


def test_validate_exit_codes(cli) -> None:
    good = cli("validate", "-f", SEED)
    assert good.exit_code == 0
    assert "is valid: project seed-002" in good.stdout
    bad = cli("validate", "-f", SEED, "--set", "workload.input_len=512",
              "--set", "workload.output_len=512")
    assert bad.exit_code == 1
    assert "server.max_model_len = 896" in bad.stderr


def test_local_runtime_without_vllm_is_refused_before_starting(cli, tmp_path) -> None:
    result = cli("up", "bench", "-f", TINY, "--runtime", "local",
                 "--set", f"results_dir={tmp_path}", env={"PATH": "/usr/bin:/bin"})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 'vllm' (the server's command) is not on PATH")
    assert list(tmp_path.iterdir()) == []  # refused before a run folder was made


def test_local_ps_and_down_with_nothing_running(cli) -> None:
    assert cli("down", "-p", "nothing-here", "--runtime", "local").stdout == (
        "nothing of project nothing-here to remove\n")
    result = cli("ps", "-p", "nothing-here", "--runtime", "local")
    assert result.exit_code == 0 and "nothing-here" not in result.stdout


def test_up_validates_before_anything_else(cli) -> None:
    result = cli("up", "bench", "-f", SEED, "--set", "server.port=0")
    assert result.exit_code == 1
    assert "server.port = 0 is out of range" in result.stderr


def test_each_stack_needs_its_section(cli) -> None:
    result = cli("up", "train", "-f", TINY)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the train stack needs a trainer section")
    result = cli("render", "bench", "-f", "examples/cpu-train.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the bench stack needs a server section")


def test_errors_are_single_lines_even_when_long(cli) -> None:
    result = cli("validate", "-f", SEED, "--set", "server.banana=1")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 200
    assert lines[0].startswith("error: --set server.banana=1: unknown key server.banana")


def test_console_script_reports_errors_without_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "validate", "-f", str(bad)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 1
    assert "YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_kubernetes_without_a_kubeconfig_says_how_to_give_one(cli, tmp_path) -> None:
    result = cli("ps", "-p", "x", "--runtime", "kubernetes",
                 env={"KUBECONFIG": str(tmp_path / "missing"), "KUBERNETES_SERVICE_HOST": ""})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no usable Kubernetes configuration")
    assert "set KUBECONFIG, choose a context with --context, or run inside a cluster" in result.stderr
