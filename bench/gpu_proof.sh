#!/usr/bin/env bash
# The GPU proof, run on a GPU host with no Docker and no network (the `device` machines):
#   bench/gpu_proof.sh setup WHEELS_TAR [SITE]  install the carried wheels into SITE (/tmp/site);
#                                               the SGLang set goes into /tmp/site-sglang
#   bench/gpu_proof.sh engines OUT [ENGINE]     examples/gpu-proof-engines.yaml on vLLM and on
#                                               SGLang (or the one named): a random sweep and the
#                                               conversation replay each; then, wherever the four
#                                               run folders are: orchestrator report RUN... -o DIR
#   bench/gpu_proof.sh bench OUT [--set ...]    examples/gpu-proof-local.yaml through `up bench`
#   bench/gpu_proof.sh gpt-oss OUT [--set ...]  examples/gpu-proof-gpt-oss-tp4.yaml (4 GPUs; needs
#                                               /tmp/tiktoken/o200k_base.tiktoken, made here by
#                                               host_scripts/harmony_vocab.py and carried along)
#   bench/gpu_proof.sh trust OUT [--set ...]    examples/gpu-proof-trust.yaml (two variants, repeats)
#   bench/gpu_proof.sh search OUT               examples/gpu-proof-search.yaml against a grid of
#                                               every 8 from 8 to 128 (bench/search_vs_grid.py)
#   bench/gpu_proof.sh fit OUT                  the fit check against vLLM's KV cache on a second
#                                               shape (Qwen2.5-7B's, dummy weights), one point
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

# `up bench` of CONFIG into OUT, then the overhead beyond the server's start and vLLM's own time.
bench_run() {
  local config=$1 out=$2; shift 2
  local start wall run
  start=$(date +%s.%N)
  python3 -m orchestrator up bench -f "$config" --set "results_dir=$out" "$@"
  wall=$(python3 -c "import time; print(time.time() - $start)")
  run=$(ls -d "$out"/*/ | tail -1)
  python3 "$repo/bench/overhead.py" "$run" --wall "$wall" | tee "$run/overhead.txt"
}

step=$1; shift
case $step in
  setup)
    wheels=/tmp/wheels-$(basename "${2:-$site}")
    rm -rf "$wheels" && mkdir -p "$wheels" && tar -C "$wheels" -xf "$1"
    # A wheel carried as NAME.whl.tar.xz (its files, xz-packed: a third smaller than the wheel's
    # own zip, so fewer transfers) is zipped back into NAME.whl before installing.
    for packed in "$wheels"/*.whl.tar.xz; do
      [[ -e $packed ]] || continue
      rm -rf /tmp/unpacked && mkdir -p /tmp/unpacked && tar -C /tmp/unpacked -xJf "$packed"
      python3 -c 'import pathlib, sys, zipfile
root = next(pathlib.Path("/tmp/unpacked").iterdir())
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as out:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out.write(path, path.relative_to(root).as_posix())' "${packed%.tar.xz}"
      rm -f "$packed"
    done
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "${2:-$site}" "$wheels"/*.whl
    if [[ ${2:-$site} == "$site" ]]; then
      python3 -c 'import torch, vllm, trl; print("torch", torch.__version__, "vllm", vllm.__version__, "trl", trl.__version__, "gpus", torch.cuda.device_count())'
    else
      PYTHONPATH="$2:$site" python3 -c 'import torch, sglang, sgl_kernel; print("torch", torch.__version__, "sglang", sglang.__version__, "sgl_kernel", sgl_kernel.__version__)'
    fi
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader ;;
  bench)
    out=$1; shift
    [[ -d /tmp/models/qwen2.5-0.5b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-dummy
    bench_run "$repo/examples/gpu-proof-local.yaml" "$out" "$@" ;;
  trust)
    out=$1; shift
    [[ -d /tmp/models/qwen2.5-0.5b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-dummy
    bench_run "$repo/examples/gpu-proof-trust.yaml" "$out" "$@" ;;
  search)
    out=$1; shift
    [[ -d /tmp/models/qwen2.5-0.5b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-dummy
    python3 "$repo/bench/search_vs_grid.py" "$repo/examples/gpu-proof-search.yaml" --out "$out" \
      --grid "$(seq -s, 8 8 128)" "$@" ;;
  fit)
    out=$1; shift
    [[ -d /tmp/models/qwen2.5-7b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-7b-dummy --arch qwen2.5-7b
    python3 -m orchestrator up bench -f "$repo/examples/gpu-proof-search.yaml" --set "results_dir=$out" \
      --set server.model=/tmp/models/qwen2.5-7b-dummy --set server.served_model_name=qwen2.5-7b-dummy \
      --set sweep.search=null --set 'workload.concurrency=[8]' "$@" ;;
  gpt-oss)
    out=$1; shift
    [[ -f /tmp/tiktoken/o200k_base.tiktoken ]] || { echo "no /tmp/tiktoken/o200k_base.tiktoken (host_scripts/harmony_vocab.py)" >&2; exit 2; }
    [[ -d /tmp/models/gpt-oss-120b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/gpt-oss-120b-dummy --arch gpt-oss-120b
    # The seed's refused shape first: 512 + 512 > max_model_len 896, refused before anything starts.
    python3 -m orchestrator up bench -f "$repo/examples/gpu-proof-gpt-oss-tp4.yaml" --set workload.input_len=512 --set workload.output_len=512 \
      && { echo "512 + 512 was not refused" >&2; exit 1; }
    bench_run "$repo/examples/gpu-proof-gpt-oss-tp4.yaml" "$out" "$@" ;;
  train)
    out=$1; shift
    [[ -f /tmp/models/qwen2.5-0.5b-weights/model.safetensors ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-weights --weights
    python3 -m orchestrator up train -f "$repo/examples/gpu-train-local.yaml" --set "trainer.results_dir=$out" "$@"
    run=$(ls -d "$out"/*/ | tail -1)
    python3 -m orchestrator analyze rollouts "$run/rollouts.log" --max-tokens 128 | tee "$run/analyze-rollouts.txt" ;;
  engines)
    # vLLM, then SGLang from its own site before vLLM's (its pins win; `vllm bench serve` keeps
    # vLLM's) with Triton attention and PyTorch sampling (FlashAttention 3 and FlashInfer's kernels
    # were not carried: bench/gpu_wheels.py); each engine runs the random sweep and the replay.
    out=$1; shift
    engines=(vllm sglang); [[ $# -gt 0 ]] && engines=("$1")
    [[ -d /tmp/models/qwen2.5-0.5b-dummy ]] || python3 "$repo/host_scripts/make_dummy_model.py" /tmp/models/qwen2.5-0.5b-dummy
    sglang=(--set server.engine=sglang --set "server.env.PYTHONPATH=/tmp/site-sglang:$site"
            --set 'server.extra_args=["--load-format","dummy","--attention-backend","triton","--sampling-backend","pytorch"]')
    replay=(--set workload.dataset=conversations --set "workload.dataset_path=$repo/examples/data/trajectories.jsonl"
            --set workload.replay=recorded --set workload.num_prompts=16 --set workload.input_len=64
            --set workload.output_len=16 --set workload.warmup_prompts=4)
    for engine in "${engines[@]}"; do
      args=(); [[ $engine == sglang ]] && args=("${sglang[@]}")
      bench_run "$repo/examples/gpu-proof-engines.yaml" "$out/$engine-random" "${args[@]}"
      bench_run "$repo/examples/gpu-proof-engines.yaml" "$out/$engine-replay" "${args[@]}" "${replay[@]}"
    done ;;
  *) echo "unknown step $step (setup, bench, trust, search, fit, gpt-oss, engines or train)" >&2; exit 2 ;;
esac
