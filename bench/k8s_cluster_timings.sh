#!/usr/bin/env bash
# Time the real single-node Kubernetes: build (or reuse) its binaries, start it, import the CPU
# image, run `orchestrator up bench --runtime kubernetes` on it, stop it. Prints one line each.
#   bench/k8s_cluster_timings.sh          (as root; Docker engine and the CPU image needed)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$repo/.venv/bin:$PATH VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

timed() {  # timed LABEL COMMAND...: run it, print its wall time
  local label=$1 start
  shift
  start=$(date +%s.%N)
  "$@" >"$results/$label.log" 2>&1 || { echo "$label failed: see below" >&2; tail -20 "$results/$label.log" >&2; exit 1; }
  printf '%-28s %8.1f s\n' "$label" "$(echo "$(date +%s.%N) - $start" | bc)"
}

timed "build (or reuse) binaries" "$repo/host_scripts/k8s_build.sh"
timed "cluster up" python3 "$repo/host_scripts/k8s_cluster.py" up
timed "import the CPU image" python3 "$repo/host_scripts/k8s_cluster.py" import orchestrator-vllm-cpu:local
export KUBECONFIG=/var/lib/orchestrator-k8s/admin.kubeconfig
timed "up bench on the cluster" orchestrator up bench -f "$repo/examples/cpu-tiny.yaml" \
  --runtime kubernetes -p timings --set "results_dir=$results/runs"
timed "cluster down" python3 "$repo/host_scripts/k8s_cluster.py" down
