#!/usr/bin/env bash
# Install what the tests need and run them:  host_scripts/run_tests.sh [pytest args]
# Makes .venv with the package and its test extra; on a fresh Debian machine (as root) it also
# installs docker-compose (to check rendered compose files), chromium (to look at the report) and
# npm (to fetch gpt-oss's vocabulary),
# starts a Docker engine and builds the CPU test image (vLLM's CPU build + a tiny model; about
# 10 minutes the first time, then reused). Where Go is installed (and as root), it also prepares
# a real two-node Kubernetes in the background while the other tests run: built from Go
# modules (host_scripts/k8s_build.sh: about 18 minutes the first time, then cached), started and
# given the CPU image (k8s_cluster.py up, import). tests/engine/test_kubernetes_real.py runs last
# on it and leaves it running (host_scripts/k8s_cluster.py down stops it; its log of the
# preparation is .venv/k8s-prepare.log). ORCHESTRATOR_REAL_K8S=KUBECONFIG uses a cluster that is
# already up instead; ORCHESTRATOR_REAL_K8S=none runs without one (those tests skip, and fail
# in CI).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

host_scripts/install.sh --venv-only  # the background work below writes into it

# The CPU image's tag, or "none", once the foreground has built it (the cluster imports it).
image_file=$repo/.venv/cpu-image
rm -f "$image_file"

prepare_cluster() {  # build (or reuse) Kubernetes, start it, import the CPU image; say the outcome
  local bin image log=.venv/k8s-prepare.log
  # Why it failed, with the log's last lines: CI shows only what the tests print.
  failed() { echo "failed: $1; the last lines of $log:"; tail -n 20 "$log"; }
  bin=$(nice -n 19 host_scripts/k8s_build.sh 2>>"$log") || { failed k8s_build.sh; return; }
  for _ in $(seq 720); do [[ -e $image_file ]] && break; sleep 5; done
  image=$(cat "$image_file" 2>/dev/null || echo none)
  .venv/bin/python host_scripts/k8s_cluster.py up --bin "$bin" >>"$log" 2>&1 \
    || { failed "k8s_cluster.py up"; return; }
  if [[ $image != none ]]; then
    nice -n 19 .venv/bin/python host_scripts/k8s_cluster.py import "$image" "${image%:*}:local" \
      >>"$log" 2>&1 || { failed "importing $image"; return; }
  fi
  echo "$bin"
}

if [[ -z ${ORCHESTRATOR_REAL_K8S:-} ]]; then
  if [[ $(id -u) == 0 ]] && command -v go >/dev/null; then
    # Prepared in the background while the other tests run; the file appears at the end with
    # the binaries' folder, or with why it failed.
    export ORCHESTRATOR_K8S_PREPARED=$repo/.venv/k8s-prepared
    export ORCHESTRATOR_REAL_K8S=/var/lib/orchestrator-k8s/admin.kubeconfig
    rm -f "$ORCHESTRATOR_K8S_PREPARED"
    (prepare_cluster >"$ORCHESTRATOR_K8S_PREPARED.part"
     mv "$ORCHESTRATOR_K8S_PREPARED.part" "$ORCHESTRATOR_K8S_PREPARED") &
  else
    echo "run_tests.sh: warning: no Go (or not root); the real-Kubernetes tests will be skipped" \
         "(in CI they fail)" >&2
  fi
fi

host_scripts/install.sh test
log=.venv/install.log

# Debian's PACKAGE for the tests it serves (as root with apt-get), else a warning that they skip.
install_deb() {
  local package=$1 purpose=$2 skipped=$3
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "run_tests.sh: installing $package (Debian) $purpose"
    apt-get update -qq >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" \
      >>"$log" 2>&1
  else
    echo "run_tests.sh: warning: no $package; $skipped will be skipped" >&2
  fi
}

if ! { command -v docker >/dev/null && docker compose version >/dev/null 2>&1; } \
   && ! command -v docker-compose >/dev/null; then
  install_deb docker-compose "to check rendered compose files" "the compose checks"
fi
# The report's browser test opens report.html in headless Chromium.
if ! command -v chromium >/dev/null; then
  install_deb chromium "for the report's browser test" "the report's browser test"
fi
# host_scripts/harmony_vocab.py's test fetches gpt-oss's vocabulary with npm.
if ! command -v npm >/dev/null; then
  install_deb npm "for the Harmony vocabulary's test" "the Harmony vocabulary's test"
fi

# The real-engine tests need a Docker engine and the CPU test image (built once, then reused).
tell_image() { echo "$1" >"$image_file.part" && mv "$image_file.part" "$image_file"; }
if host_scripts/docker_engine.sh; then
  image=$(host_scripts/build_images.sh cpu) || { tell_image none; exit 1; }
  tell_image "$image"
else
  tell_image none
  echo "run_tests.sh: warning: no Docker engine; the real-engine tests will be skipped" \
       "(in CI they fail)" >&2
fi

# Lint and types first: a finding fails the run before the slow tests start.
.venv/bin/ruff check src tests bench host_scripts container_scripts
.venv/bin/mypy

export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
