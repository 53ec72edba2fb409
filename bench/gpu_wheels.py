#!/usr/bin/env python3
"""Download the wheels that the GPU proof carries to the `device` machines (Python 3.12, torch
2.11.0+cu130, no network): vLLM 0.22.1, TRL 1.16 and their pure-Python needs that the device
image lacks, minus GPU kernel libraries that vLLM imports only on request (FlashInfer & co.).

    python3 bench/gpu_wheels.py OUT_DIR          # then: tar -C OUT_DIR -cf wheels.tar . ; split -b 58M
    python3 bench/gpu_wheels.py SGL_DIR --engine sglang --over OUT_DIR

The SGLang set (sglang 0.5.16, which pins the device's torch 2.11.0, with its [cu13] extras) is
installed into a site of its own that comes BEFORE the vLLM site on the SGLang server's
PYTHONPATH: it carries only what the vLLM set (--over) lacks or holds at another version.

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
SKIP_VLLM = [
    "flashinfer-python",
    "flashinfer-cubin",
    "tilelang",
    "nvidia-cudnn-frontend",
    "fastsafetensors",
    "nvidia-cutlass-dsl",
    "quack-kernels",
    "tokenspeed-mla",
    "humming-kernels",
    "numba",
]
# SGLang on a Hopper GPU runs here with Triton attention (--attention-backend triton) and PyTorch
# sampling (--sampling-backend pytorch): FlashInfer's prebuilt kernels and its JIT compiler
# (nvcc, nvvm), the CuTe-DSL stack (Blackwell's FlashAttention 4), TileLang/Helion kernels, the
# MLA kernels of DeepSeek models and the multimodal extras stay behind (~450 MB), and
# sglang-kernel travels without FlashAttention 3 and its Blackwell ops (DROP: 1.1 GB unpacked).
SKIP_SGLANG = [
    "flashinfer-cubin",
    "flashinfer-jit-cache",
    "flash-attn-4",
    "nvidia-cutlass-dsl",
    "nvidia-cutlass-dsl-libs-base",
    "nvidia-cutlass-dsl-libs-cu13",
    "nvidia-cuda-nvcc",
    "nvidia-nvvm",
    "nvidia-cuda-crt",
    "nvidia-cuda-cccl",
    "nvidia-mathdx",
    "quack-kernels",
    "tilelang",
    "helion",
    "z3-solver",
    "tokenspeed-mla",
    "tokenspeed-triton",
    "torchcodec",
    "decord2",
    "timm",
]
DROP = {"sglang-kernel": ("sgl_kernel/flash_ops.abi3.so", "sgl_kernel/sm100/")}
# Versions in the device image (KINDS.md's pip list) that a pin may refuse: such a pin is
# carried (sglang 0.5.16 pins transformers 5.12.1, whose import refuses tokenizers 0.23.2).
DEVICE_VERSIONS = {"transformers": "5.17.0", "tokenizers": "0.23.2", "huggingface-hub": "1.33.0",
                   "safetensors": "0.8.0", "numpy": "2.5.2", "sentencepiece": "0.2.2",
                   "tiktoken": "0.14.0", "accelerate": "1.15.0"}
ALWAYS_SKIP = ["torch", "torchaudio", "torchvision", "triton"]
ROOTS_VLLM = [
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
ROOTS_SGLANG = ["sglang==0.5.16"]
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
ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "os_name": "posix",
    "extra": "",
}


def carried(folder: pathlib.Path) -> dict[str, str]:
    """Name -> version of every wheel already in FOLDER (a wheel packed as .whl.tar.xz too)."""
    found = {}
    for path in folder.glob("*.whl*"):
        name, version = path.name.split("-")[:2]
        found[canonicalize_name(name)] = version
    return found


def requirements(wheel: pathlib.Path, extras: set[str]) -> list[Requirement]:
    """The wheel's Requires-Dist: the plain ones, and those of the extras asked for."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    found = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        dep = Requirement(line.split(":", 1)[1].strip())
        if dep.marker and "extra" in str(dep.marker):
            if not any(dep.marker.evaluate({**ENV, "extra": e}) for e in extras):
                continue
        elif dep.marker and not dep.marker.evaluate(ENV):
            continue
        found.append(dep)
    return found


args = sys.argv[1:]
out = pathlib.Path(args[0])
out.mkdir(exist_ok=True)
engine = args[args.index("--engine") + 1] if "--engine" in args else "vllm"
over = carried(pathlib.Path(args[args.index("--over") + 1])) if "--over" in args else {}
roots = ROOTS_SGLANG if engine == "sglang" else ROOTS_VLLM
skip = set(map(canonicalize_name, ALWAYS_SKIP + (SKIP_SGLANG if engine == "sglang" else SKIP_VLLM)))
have = set(map(canonicalize_name, DEVICE))
todo = [Requirement(r) for r in reversed(roots)]
done: set[tuple[str, str]] = set()
if engine == "vllm":
    # apache-tvm-ffi is fetched once, at the version ROOTS names (vLLM pins an older one).
    done.add((canonicalize_name("apache-tvm-ffi"), ""))
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", *PLAT, "-d", str(out), roots[-1]], check=True
    )
while todo:
    req = todo.pop()
    name = canonicalize_name(req.name)
    extras = set(req.extras)
    pinned_away = name in DEVICE_VERSIONS and not req.specifier.contains(DEVICE_VERSIONS[name])
    if name in skip or (name in have and name != "pydantic" and not pinned_away) or \
            (name, ",".join(sorted(extras))) in done:
        continue
    if name in over and req.specifier.contains(over[name], prereleases=True):
        continue
    done.add((name, ",".join(sorted(extras))))
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
    todo.extend(requirements(whl[-1], extras))
    print("got", whl[-1].name, flush=True)


def pack(wheel: pathlib.Path, drop: tuple[str, ...]) -> None:
    """Replace a large WHEEL by NAME.whl.tar.xz of its files (a third smaller than the wheel's
    zip; gpu_proof.sh setup zips it back), leaving out the members DROP names (and their RECORD
    lines)."""
    folder = wheel.with_suffix(".unpacked")
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if not member.startswith(drop):
                z.extract(member, folder)
    for record in folder.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines()
        record.write_text("".join(f"{line}\n" for line in lines if not line.startswith(drop)))
    subprocess.run(["tar", "-C", str(folder.parent), "-cJf", f"{wheel}.tar.xz", folder.name], check=True)
    subprocess.run(["rm", "-rf", str(folder), str(wheel)], check=True)
    print("packed", f"{wheel.name}.tar.xz", flush=True)


for wheel in sorted(out.glob("*.whl")):
    name = canonicalize_name(wheel.name.split("-")[0])
    if wheel.stat().st_size > 20_000_000 or name in DROP:
        pack(wheel, DROP.get(name, ()))
