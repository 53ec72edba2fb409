#!/usr/bin/env bash
# Seed 002's verbs, as a thin wrapper over `orchestrator` (Docker runtime):
#   start_bench_containers.sh              start the server and client, wait until healthy (no sweep)
#   start_bench_containers.sh ps           list them
#   start_bench_containers.sh server       a shell in the server container
#   start_bench_containers.sh client       a shell in the client (run_benchmark.sh is in
#                                          /opt/orchestrator/scripts, its defaults in the env)
#   start_bench_containers.sh logs-server  follow the server's log
#   start_bench_containers.sh down         remove everything
# The config is $ORCHESTRATOR_CONFIG (default ./orchestrator.yaml); extra arguments after the
# verb go to orchestrator (for example -p NAME, or --set key=value when starting).
set -euo pipefail

config=${ORCHESTRATOR_CONFIG:-orchestrator.yaml}
verb=${1:-up}
(($#)) && shift

shell_in() {
  local name
  name=$(orchestrator ps "$1" -q --file "$config" "${@:2}")
  [[ -n $name ]] || { echo "start_bench_containers.sh: no $1 container; start it first" >&2; exit 1; }
  exec docker exec -it "$name" bash
}

case $verb in
  up) exec orchestrator up bench --detach -f "$config" "$@" ;;
  ps) exec orchestrator ps -f "$config" "$@" ;;
  server|client) shell_in "$verb" "$@" ;;
  logs-server) exec orchestrator logs server -f --file "$config" "$@" ;;
  down) exec orchestrator down -f "$config" "$@" ;;
  -h|--help|help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "start_bench_containers.sh: unknown verb '$verb' (see --help)" >&2; exit 2 ;;
esac
