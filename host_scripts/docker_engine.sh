#!/usr/bin/env bash
# Make a Docker engine available: use a running one; otherwise, as root on Debian, install
# docker.io, start dockerd in the background and wait until `docker info` answers.
#   host_scripts/docker_engine.sh            # exit 0 once the engine answers
# The daemon's log goes to /var/log/orchestrator-dockerd.log.
set -euo pipefail

timeout_s=${DOCKER_ENGINE_TIMEOUT:-90}
log=/var/log/orchestrator-dockerd.log

engine_up() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null && engine_up; then
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "docker_engine.sh: no Docker engine answers, and starting one needs root;" \
       "start Docker yourself (or add your user to the docker group)" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null; then
  command -v apt-get >/dev/null || { echo "docker_engine.sh: no dockerd and no apt-get to install it" >&2; exit 1; }
  echo "docker_engine.sh: installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "docker_engine.sh: starting dockerd (log: $log)"
  # setsid: the daemon outlives this script and the shell that ran it.
  setsid dockerd >>"$log" 2>&1 < /dev/null &
fi
for ((waited = 0; waited < timeout_s; waited++)); do
  if engine_up; then
    echo "docker_engine.sh: engine ready ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "docker_engine.sh: dockerd did not answer within ${timeout_s}s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
