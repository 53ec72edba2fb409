"""The serving engines' tables (src/orchestrator/serving/) held against the engines themselves:
SGLang's flags, endpoints and metric names against the source of the SGLang release the default
image pins (its wheel, downloaded once into a version-stamped cache), and each engine's flags
given to the other refused with the equivalent named."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO
from orchestrator.config import load_config
from orchestrator.plan import build_bench_plan
from orchestrator.serving import ENGINES, SERIES
from orchestrator.serving.sglang import SGLANG
from orchestrator.serving.vllm import VLLM

SGLANG_VERSION = (REPO / "images" / "sglang-image.txt").read_text().strip().rsplit(":v", 1)[1]


@pytest.fixture(scope="module")
def sglang_source() -> dict[str, str]:
    """server_args.py, http_server.py and metrics_collector.py of the pinned SGLang release."""
    cache = Path.home() / ".cache" / "orchestrator" / f"sglang-{SGLANG_VERSION}"
    wheels = sorted(cache.glob("sglang-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"sglang=={SGLANG_VERSION}",
                        "--no-deps", "--only-binary=:all:", "-q", "-d", str(cache)], check=True,
                       timeout=600)
        wheels = sorted(cache.glob("sglang-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        return {name: wheel.read(f"sglang/srt/{name}").decode() for name in (
            "server_args.py", "entrypoints/http_server.py", "observability/metrics_collector.py")}


def _sglang_flags(source: str) -> set[str]:
    """Every flag SGLang's launch_server accepts: one per ServerArgs field, plus aliases."""
    tree = ast.parse(source)
    args = next(node for node in tree.body
                if isinstance(node, ast.ClassDef) and node.name == "ServerArgs")
    fields = {node.target.id for node in args.body
              if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    return {"--" + name.replace("_", "-") for name in fields} | set(
        re.findall(r'"(--[a-z][a-z0-9-]*)"', source))


def test_sglang_accepts_every_flag_orchestrator_writes(sglang_source) -> None:
    accepted = _sglang_flags(sglang_source["server_args.py"])
    written = {arg for arg in SGLANG.launch(_server("sglang")) if arg.startswith("--")}
    written |= {flag for row in SGLANG.flags for flag in (row.flag, *row.aliases)}
    assert written - accepted == set()
    # What the refusals tell a user to write instead is SGLang's too.
    suggested = {word for text in SGLANG.foreign_flags.values()
                 for word in re.findall(r"--[a-z][a-z0-9-]*", text)}
    assert suggested - accepted == set()
    assert suggested & set(SGLANG.managed_flags()) == set()  # else extra_args refuses them
    # vLLM's spellings refused for SGLang are indeed not SGLang's.
    assert set(SGLANG.foreign_flags) & accepted == set()


def test_sglang_answers_where_orchestrator_asks(sglang_source) -> None:
    routes = set(re.findall(r'@app\.(?:get|post|api_route)\(\s*"([^"]+)"',
                            sglang_source["entrypoints/http_server.py"]))
    assert {SGLANG.health_path, SGLANG.version_path, "/v1/models"} <= routes
    assert SGLANG.reset_cache_path in routes
    assert '"version": __version__' in sglang_source["entrypoints/http_server.py"]
    named = set(re.findall(r'name="(sglang:[a-z_]+)"', sglang_source["observability/metrics_collector.py"]))
    used = {name for names in SGLANG.metrics.values() for name in names}
    assert used - named == set()


def test_every_engine_maps_every_series_and_field() -> None:
    fields = {row.field for row in VLLM.flags}
    for engine in ENGINES.values():
        assert tuple(engine.metrics) == SERIES, engine.name
        assert {row.field for row in engine.flags} == fields, engine.name


def _server(engine: str, *sets: str):
    loaded = load_config(EXAMPLES / "gpu-sglang.yaml", sets=[f"server.engine={engine}", *sets],
                         environ={})
    assert loaded.spec.server is not None
    return loaded.spec.server


def test_one_config_two_engines() -> None:
    vllm, sglang = _server("vllm"), _server("sglang")
    assert VLLM.argv(vllm)[:3] == ["vllm", "serve", "Qwen/Qwen2.5-0.5B-Instruct"]
    assert "--max-num-seqs" in VLLM.argv(vllm) and "--gpu-memory-utilization" in VLLM.argv(vllm)
    argv = SGLANG.argv(sglang)
    assert argv[:5] == ["python3", "-m", "sglang.launch_server", "--model-path",
                        "Qwen/Qwen2.5-0.5B-Instruct"]
    assert argv[argv.index("--max-running-requests") + 1] == "64"
    assert argv[argv.index("--mem-fraction-static") + 1] == "0.85"
    assert "--enable-metrics" in argv and "--disable-cuda-graph" not in argv
    assert "--disable-cuda-graph" in SGLANG.argv(_server("sglang", "server.enforce_eager=true"))
    # The default images follow the engine; the client keeps vLLM's (its benchmark).
    assert sglang.image.startswith("lmsysorg/sglang:") and vllm.image.startswith("vllm/")
    loaded = load_config(EXAMPLES / "gpu-sglang.yaml", environ={})
    plan = build_bench_plan(loaded.spec, loaded.project)
    assert plan.component("client").image.startswith("vllm/vllm-openai:")
    assert plan.component("server").env["TORCHINDUCTOR_CACHE_DIR"].endswith("/inductor")
    assert plan.component("server").engine == "sglang"
