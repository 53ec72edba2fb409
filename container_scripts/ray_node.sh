#!/usr/bin/env bash
# One node of a multi-node vLLM server on a LeaderWorkerSet, joined through Ray.
#   ray_node.sh leader -- vllm serve MODEL ...   start the Ray head, wait for every worker, then
#                                               exec the command (an argv list, never a string)
#   ray_node.sh worker                          join the leader's Ray cluster and stay there
# LeaderWorkerSet sets LWS_LEADER_ADDRESS and LWS_GROUP_SIZE in every pod of the group.
set -euo pipefail

port=${RAY_PORT:-6379}
wait_s=${RAY_JOIN_TIMEOUT:-900}
role=${1:?usage: ray_node.sh leader -- COMMAND... | ray_node.sh worker}
shift

case $role in
  leader)
    [[ ${1:-} == -- ]] && shift
    (($#)) || { echo "ray_node.sh: leader needs a command after --" >&2; exit 2; }
    ray start --head --port="$port" --disable-usage-stats
    want=${LWS_GROUP_SIZE:-1}
    for ((waited = 0; ; waited += 5)); do
      have=$(python3 -c 'import ray; ray.init(address="auto", logging_level="ERROR"); print(sum(n["Alive"] for n in ray.nodes()))')
      ((have >= want)) && break
      ((waited < wait_s)) || { echo "ray_node.sh: only $have of $want nodes joined in ${wait_s}s" >&2; exit 1; }
      echo "ray_node.sh: $have of $want nodes in the Ray cluster; waiting"
      sleep 5
    done
    exec "$@"
    ;;
  worker)
    : "${LWS_LEADER_ADDRESS:?ray_node.sh: LWS_LEADER_ADDRESS is not set (not in a LeaderWorkerSet?)}"
    exec ray start --address="$LWS_LEADER_ADDRESS:$port" --disable-usage-stats --block
    ;;
  *) echo "ray_node.sh: unknown role '$role' (leader or worker)" >&2; exit 2 ;;
esac
