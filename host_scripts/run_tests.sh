#!/usr/bin/env bash
# Install what the tests need and run them:  host_scripts/run_tests.sh [pytest args]
# Makes .venv with the package and its test extra; on a fresh Debian machine (as root) it also
# installs docker-compose (to check rendered compose files) and chromium (to look at the report),
# starts a Docker engine and builds the
# CPU test image (vLLM's CPU build + a tiny model; about 10 minutes the first time, then reused).
# Where Go is installed (and as root), it also builds a real single-node Kubernetes in the
# background (host_scripts/k8s_build.sh: about 18 minutes the first time, then cached) for
# tests/engine/test_kubernetes_real.py, which run last, start the cluster and leave it running
# (host_scripts/k8s_cluster.py down stops it). ORCHESTRATOR_REAL_K8S=KUBECONFIG uses a cluster
# that is already up instead; ORCHESTRATOR_REAL_K8S=none runs without one (those tests skip,
# and fail in CI).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi

if [[ -z ${ORCHESTRATOR_REAL_K8S:-} ]]; then
  if [[ $(id -u) == 0 ]] && command -v go >/dev/null; then
    # The file appears when the build ends: the binaries' folder, or why it failed.
    export ORCHESTRATOR_K8S_BUILD=$repo/.venv/k8s-build.status
    export ORCHESTRATOR_REAL_K8S=/var/lib/orchestrator-k8s/admin.kubeconfig
    rm -f "$ORCHESTRATOR_K8S_BUILD"
    (
      if bin=$(nice -n 19 host_scripts/k8s_build.sh 2>.venv/k8s-build.log); then
        echo "$bin" >"$ORCHESTRATOR_K8S_BUILD.part"
      else
        echo "k8s_build.sh failed: $(tail -n 1 .venv/k8s-build.log)" >"$ORCHESTRATOR_K8S_BUILD.part"
      fi
      mv "$ORCHESTRATOR_K8S_BUILD.part" "$ORCHESTRATOR_K8S_BUILD"
    ) &
  else
    echo "run_tests.sh: warning: no Go (or not root); the real-Kubernetes tests will be skipped" \
         "(in CI they fail)" >&2
  fi
fi
log=.venv/install.log
if ! .venv/bin/python -m pip install -e '.[test]' >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_tests.sh: installing the package and its test dependencies failed (log above)" >&2
  exit 1
fi

if ! { command -v docker >/dev/null && docker compose version >/dev/null 2>&1; } \
   && ! command -v docker-compose >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "run_tests.sh: installing docker-compose (Debian) to check rendered compose files"
    apt-get update -qq >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose \
      >>"$log" 2>&1
  else
    echo "run_tests.sh: warning: no docker compose; the compose checks will be skipped" >&2
  fi
fi

# The report's browser test opens report.html in headless Chromium (Debian's package).
if ! command -v chromium >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "run_tests.sh: installing chromium (Debian) for the report's browser test"
    apt-get update -qq >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
      >>"$log" 2>&1
  else
    echo "run_tests.sh: warning: no chromium; the report's browser test will be skipped" >&2
  fi
fi

# The real-engine tests need a Docker engine and the CPU test image (built once, then reused).
if host_scripts/docker_engine.sh; then
  host_scripts/build_images.sh cpu >/dev/null
else
  echo "run_tests.sh: warning: no Docker engine; the real-engine tests will be skipped" \
       "(in CI they fail)" >&2
fi

# Lint and types first: a finding fails the run before the slow tests start.
.venv/bin/ruff check src tests bench host_scripts
.venv/bin/mypy

export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
