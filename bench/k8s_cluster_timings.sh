#!/usr/bin/env bash
# Time the real Kubernetes (two nodes): build (or reuse) its binaries, start it, import the CPU
# image, run `orchestrator up bench` and `up train --runtime kubernetes` on it, stop it. Prints
# one line each.
#   bench/k8s_cluster_timings.sh          warm: cached binaries, image already imported
#   bench/k8s_cluster_timings.sh --cold   as on a fresh machine: empty Go caches (modules
#                                         downloaded from the proxy, everything compiled) and
#                                         the image removed from the cluster first
# As root; a Docker engine and the CPU image are needed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$repo/.venv/bin:$PATH VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
image=orchestrator-vllm-cpu:local
socket=/run/orchestrator-k8s/containerd.sock

if [[ ${1:-} == --cold ]]; then
  export GOCACHE=$results/go-build GOMODCACHE=$results/go-mod ORCHESTRATOR_CACHE=$results/cache
  echo "cold: empty Go caches in $results"
  python3 "$repo/host_scripts/k8s_cluster.py" down >/dev/null 2>&1  # a running one starts nothing

fi

timed() {  # timed LABEL COMMAND...: run it, print its wall time
  local label=$1 start
  shift
  start=$(date +%s.%N)
  "$@" >"$results/$label.log" 2>&1 || { echo "$label failed: see below" >&2; tail -20 "$results/$label.log" >&2; exit 1; }
  printf '%-28s %8.1f s\n' "$label" "$(echo "$(date +%s.%N) - $start" | bc)"
}

timed "build (or reuse) binaries" "$repo/host_scripts/k8s_build.sh"
timed "cluster up" python3 "$repo/host_scripts/k8s_cluster.py" up
if [[ ${1:-} == --cold ]]; then  # the image out of the cluster's containerd
  id=$(docker image inspect --format '{{.Id}}' "$image")
  for ref in $(ctr -a "$socket" -n k8s.io images ls -q); do
    if [[ $ref == "$id" || $ref == docker.io/library/orchestrator-vllm-cpu:* ]]; then
      ctr -a "$socket" -n k8s.io images rm "$ref" >/dev/null
    fi
  done
fi
timed "import the CPU image" python3 "$repo/host_scripts/k8s_cluster.py" import "$image"
export KUBECONFIG=/var/lib/orchestrator-k8s/admin.kubeconfig
timed "up bench on the cluster" orchestrator up bench -f "$repo/examples/cpu-tiny.yaml" \
  --runtime kubernetes -p timings --set "results_dir=$results/runs"
timed "up train on the cluster" orchestrator up train -f "$repo/examples/cpu-train.yaml" \
  --runtime kubernetes -p timings-train --set "trainer.results_dir=$results/train"
timed "cluster down" python3 "$repo/host_scripts/k8s_cluster.py" down
