"""A non-editable install carries the chart, the container scripts and the Dockerfiles."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO

DATA = ("k8s/values.yaml", "k8s/Chart.yaml", "k8s/templates/20-server-deployment.yaml.j2",
        "container_scripts/run_benchmark.sh", "images/README.md")


def test_wheel_ships_data_and_renders_from_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(REPO)],
        check=True, capture_output=True,
    )
    (wheel,) = wheels.glob("orchestrator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for item in DATA:
        assert f"orchestrator/_data/{item}" in names

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )
    # Run from outside the checkout, with the installed copy first on the path.
    env = {**os.environ, "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c",
         "import orchestrator, sys; print(orchestrator.__file__, file=sys.stderr);"
         " from orchestrator.cli import main; sys.argv[0] = 'orchestrator'; main()",
         "render", "bench", "--runtime", "kubernetes", "-f",
         str(REPO / "examples" / "seed-002-gpt-oss-120b.yaml"), "-o", str(out)],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith(str(target))
    configmap = (out / "10-scripts-configmap.yaml").read_text()
    assert "run_benchmark.sh" in configmap

    docker_render = subprocess.run(
        [sys.executable, "-m", "orchestrator", "render", "bench", "-f",
         str(REPO / "examples" / "cpu-tiny.yaml")],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert docker_render.returncode == 0, docker_render.stderr
    assert f"{target}/orchestrator/_data/container_scripts" in docker_render.stdout
