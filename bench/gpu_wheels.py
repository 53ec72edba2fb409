#!/usr/bin/env python3
"""Download the wheels that the GPU proof carries to the `device` machines (Python 3.12, torch
2.11.0+cu130, no network): vLLM 0.22.1, TRL 1.16 and their pure-Python needs that the device
image lacks, minus GPU kernel libraries that vLLM imports only on request (FlashInfer & co.).

    python3 bench/gpu_wheels.py OUT_DIR          # then: tar -C OUT_DIR -cf wheels.tar . ; split -b 58M

DEVICE is the device image's package list (/work/.library/device/KINDS.md). Two fixes over
what pip metadata says: pycountry (mistral_common's image extra needs it at import) and
apache-tvm-ffi >= 0.1.11 (xgrammar 0.2.8 needs it; vLLM pins 0.1.9 only for FlashInfer).
"""

import pathlib
import re
import subprocess
import sys
import zipfile

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DEVICE = [
    "absl-py",
    "accelerate",
    "aiofiles",
    "aiohappyeyeballs",
    "aiohttp",
    "aiosignal",
    "annotated-doc",
    "anyio",
    "attrs",
    "botorch",
    "build",
    "certifi",
    "charset-normalizer",
    "chex",
    "click",
    "cloudpickle",
    "cmake",
    "colorama",
    "contourpy",
    "coverage",
    "cuda-bindings",
    "cuda-core",
    "cuda-pathfinder",
    "cuda-toolkit",
    "cupy-cuda13x",
    "cycler",
    "cython",
    "diffrax",
    "e3nn",
    "einops",
    "equinox",
    "etils",
    "execnet",
    "filelock",
    "flatbuffers",
    "flax",
    "fonttools",
    "formulaic",
    "frozenlist",
    "fsspec",
    "gpytorch",
    "grpcio",
    "h11",
    "h5py",
    "hf-xet",
    "httpcore",
    "httpx",
    "huggingface-hub",
    "humanize",
    "hypothesis",
    "idna",
    "imageio",
    "iniconfig",
    "interface-meta",
    "jax",
    "jax-cuda13-pjrt",
    "jax-cuda13-plugin",
    "jaxlib",
    "jaxtyping",
    "jinja2",
    "joblib",
    "kiwisolver",
    "lazy-loader",
    "lightning",
    "lightning-utilities",
    "linear-operator",
    "lineax",
    "llvmlite",
    "lxml",
    "markdown",
    "markdown-it-py",
    "markupsafe",
    "matplotlib",
    "mdurl",
    "meson",
    "ml-dtypes",
    "mpi4py",
    "mpmath",
    "msgpack",
    "multidict",
    "multipledispatch",
    "mypy-extensions",
    "nanobind",
    "narwhals",
    "networkx",
    "ninja",
    "numba",
    "numba-cuda",
    "numpy",
    "numpyro",
    "nvidia-cublas",
    "nvidia-cuda-cupti",
    "nvidia-cuda-nvrtc",
    "nvidia-cuda-runtime",
    "nvidia-cudnn-cu13",
    "nvidia-cufft",
    "nvidia-cufile",
    "nvidia-curand",
    "nvidia-cusolver",
    "nvidia-cusparse",
    "nvidia-cusparselt-cu13",
    "nvidia-ml-py",
    "nvidia-nccl-cu13",
    "nvidia-nvjitlink",
    "nvidia-nvshmem-cu13",
    "nvidia-nvtx",
    "onnx",
    "onnx-ir",
    "onnxruntime",
    "onnxscript",
    "opencv-python-headless",
    "optax",
    "opt-einsum",
    "opt-einsum-fx",
    "optimistix",
    "orbax-checkpoint",
    "packaging",
    "pandas",
    "pathspec",
    "patsy",
    "peft",
    "pillow",
    "pip",
    "pluggy",
    "portalocker",
    "prometheus-client",
    "propcache",
    "protobuf",
    "psutil",
    "pyarrow",
    "pybind11",
    "py-cpuinfo",
    "pygments",
    "pyparsing",
    "pyproject-hooks",
    "pyre-extensions",
    "pytest",
    "pytest-benchmark",
    "pytest-cov",
    "pytest-mock",
    "pytest-timeout",
    "pytest-xdist",
    "python-dateutil",
    "pytorch-lightning",
    "pyyaml",
    "regex",
    "requests",
    "rich",
    "sacrebleu",
    "safetensors",
    "scikit-build-core",
    "scikit-image",
    "scikit-learn",
    "scipy",
    "seaborn",
    "sentencepiece",
    "sentence-transformers",
    "setuptools",
    "shellingham",
    "simplejson",
    "six",
    "sortedcontainers",
    "statsmodels",
    "sympy",
    "tabulate",
    "tensorboard",
    "tensorboard-data-server",
    "tensorstore",
    "threadpoolctl",
    "tifffile",
    "tiktoken",
    "timm",
    "tokenizers",
    "toolz",
    "torch",
    "torchaudio",
    "torchdiffeq",
    "torch-geometric",
    "torchmetrics",
    "torchvision",
    "tqdm",
    "transformers",
    "treescope",
    "triton",
    "typer",
    "typing-extensions",
    "typing-inspect",
    "urllib3",
    "uvloop",
    "wadler-lindig",
    "werkzeug",
    "wheel",
    "wrapt",
    "xarray",
    "xxhash",
    "yarl",
    "zipp",
]
# GPU kernel libraries vLLM imports only when a model or setting asks for them.
SKIP = set(
    map(
        canonicalize_name,
        [
            "flashinfer-python",
            "flashinfer-cubin",
            "tilelang",
            "nvidia-cudnn-frontend",
            "fastsafetensors",
            "nvidia-cutlass-dsl",
            "quack-kernels",
            "tokenspeed-mla",
            "humming-kernels",
            "torch",
            "torchaudio",
            "torchvision",
            "triton",
            "numba",
        ],
    )
)
ROOTS = [
    "vllm==0.22.1",
    "trl==1.16.0",
    "datasets==5.2.0",
    "pydantic>=2.12",
    "fastapi>=0.115",
    "uvicorn",
    "httptools",
    "python-multipart",
    "websockets",
    "python-dotenv",
    "anthropic>=0.71.0",
    "mcp",
    "opentelemetry-exporter-otlp>=1.27.0",
    "pycountry",
    "apache-tvm-ffi>=0.1.11,<0.2",
]
HAVE = set(map(canonicalize_name, DEVICE))
PLAT = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp"] + [
    x
    for n in (
        "manylinux_2_28_x86_64",
        "manylinux_2_27_x86_64",
        "manylinux_2_17_x86_64",
        "manylinux2014_x86_64",
        "manylinux1_x86_64",
        "manylinux_2_31_x86_64",
        "manylinux_2_34_x86_64",
        "manylinux_2_35_x86_64",
        "manylinux_2_24_x86_64",
        "any",
    )
    for x in ("--platform", n)
]
out = pathlib.Path(sys.argv[1])
out.mkdir(exist_ok=True)
env = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "os_name": "posix",
    "extra": "",
}
todo = [Requirement(r) for r in reversed(ROOTS)]
done = {canonicalize_name("apache-tvm-ffi")}  # fetched once, at the version ROOTS names
subprocess.run(
    [sys.executable, "-m", "pip", "download", "-q", "--no-deps", *PLAT, "-d", str(out), ROOTS[-1]], check=True
)
while todo:
    req = todo.pop()
    name = canonicalize_name(req.name)
    if name in done or name in SKIP or (name in HAVE and name not in {"pydantic"}):
        continue
    if req.marker and not req.marker.evaluate(env):
        continue
    done.add(name)
    spec = f"{req.name}{req.specifier}"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", *PLAT, "-d", str(out), spec],
        capture_output=True,
        text=True,
    )
    if r.returncode:
        print("FAILED", spec, r.stderr.strip().splitlines()[-1][:200])
        continue
    whl = sorted(out.glob(f"{re.sub('[-_.]+', '_', req.name)}-*.whl"), key=lambda p: p.stat().st_mtime) or sorted(
        out.glob("*.whl"), key=lambda p: p.stat().st_mtime
    )
    w = whl[-1]
    with zipfile.ZipFile(w) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:"):
                dep = Requirement(line.split(":", 1)[1].strip())
                if dep.marker and "extra" in str(dep.marker):
                    continue
                todo.append(dep)
    print("got", w.name, flush=True)
