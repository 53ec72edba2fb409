"""host_scripts/start_bench_containers.sh: seed 002's verbs over the CLI, on the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from .conftest import TEST_ENV, leftovers

WRAPPER = str(REPO / "host_scripts" / "start_bench_containers.sh")


def _wrapper(*args: str, stdin: str | None = None, tty: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEST_ENV, "ORCHESTRATOR_CONFIG": "examples/cpu-tiny.yaml",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    argv = [WRAPPER, *args]
    if tty:  # `docker exec -it` wants a terminal: give it one
        argv = ["script", "-qec", " ".join(argv), "/dev/null"]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=600)


def test_seed_verbs(project, tmp_path) -> None:
    up = _wrapper("up", "-p", project, "--set", f"results_dir={tmp_path}")
    assert up.returncode == 0, up.stderr
    assert "server ready" in up.stdout
    assert "ConnectionError" not in up.stdout  # a normal start's health polls are not steps

    ps = _wrapper("ps", "-p", project)
    assert f"{project}-server" in ps.stdout and "running" in ps.stdout

    # Where there is no config, `ps` lists every project found (as `docker compose ls`), and
    # `logs` without -p names them.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = subprocess.run([sys.executable, "-m", "orchestrator", "ps"], cwd=elsewhere,
                            capture_output=True, text=True, env={**os.environ, **TEST_ENV})
    assert listed.returncode == 0, listed.stderr
    (line,) = [x for x in listed.stdout.splitlines() if x.split()[:2] == [project, "docker"]]
    assert "server running" in line and "client running" in line
    named = subprocess.run([sys.executable, "-m", "orchestrator", "logs", "server"],
                           cwd=elsewhere, capture_output=True, text=True,
                           env={**os.environ, **TEST_ENV})
    assert named.returncode == 1 and "found: " in named.stderr
    assert f"{project} (docker)" in named.stderr.split("found: ")[1]

    shell = _wrapper("client", "-p", project, stdin="echo model=$MODEL; exit\n", tty=True)
    assert shell.returncode == 0, shell.stderr
    assert "model=tiny-qwen2" in shell.stdout

    down = _wrapper("down", "-p", project)
    assert down.returncode == 0 and f"removed container {project}-client" in down.stdout
    assert leftovers(project) == []
    assert _wrapper("bogus").returncode == 2
