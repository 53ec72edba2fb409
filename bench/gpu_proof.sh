#!/usr/bin/env bash
# The GPU proof, run on a GPU host with no Docker and no network (the `device` machines):
#   bench/gpu_proof.sh setup WHEELS_TAR         install the carried wheels into /tmp/site
#   bench/gpu_proof.sh bench OUT [--set ...]    examples/gpu-proof-local.yaml through `up bench`
#   bench/gpu_proof.sh train OUT [--set ...]    examples/gpu-train-local.yaml through `up train`
# Each step prints its figures; runs land under OUT. NVLink multicast stays off in every process.
set -euo pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
# FlashInfer is not carried (hundreds of MB of kernels): vLLM samples with PyTorch instead.
export VLLM_USE_FLASHINFER_SAMPLER=0
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
site=/tmp/site
export PYTHONPATH="$site:$repo/src" PATH="$site/bin:$PATH"

step=$1; shift
case $step in
  setup)
    mkdir -p /tmp/wheels && tar -C /tmp/wheels -xf "$1"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$site" /tmp/wheels/*.whl
    python3 -c 'import torch, vllm, trl; print("torch", torch.__version__, "vllm", vllm.__version__, "trl", trl.__version__, "gpus", torch.cuda.device_count())'
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader ;;
  bench)
    out=$1; shift
    [[ -d /tmp/models/qwen2.5-0.5b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-dummy
    start=$(date +%s.%N)
    python3 -m orchestrator up bench -f "$repo/examples/gpu-proof-local.yaml" --set "results_dir=$out" "$@"
    wall=$(python3 -c "import time; print(time.time() - $start)")
    run=$(ls -d "$out"/*/ | tail -1)
    python3 "$repo/bench/overhead.py" "$run" --wall "$wall" | tee "$run/overhead.txt" ;;
  train)
    out=$1; shift
    [[ -f /tmp/models/qwen2.5-0.5b-weights/model.safetensors ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-weights --weights
    python3 -m orchestrator up train -f "$repo/examples/gpu-train-local.yaml" --set "trainer.results_dir=$out" "$@"
    run=$(ls -d "$out"/*/ | tail -1)
    python3 -m orchestrator analyze rollouts "$run/rollouts.log" --max-tokens 128 | tee "$run/analyze-rollouts.txt" ;;
  *) echo "unknown step $step (setup, bench or train)" >&2; exit 2 ;;
esac
