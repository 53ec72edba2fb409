#!/usr/bin/env bash
# Sweep `vllm bench serve` over concurrencies against a running vLLM server (seed 002 compatible).
#
# Runs inside the client container (orchestrator execs it the same way you would):
#   run_benchmark.sh                     # concurrency 1..32 doubling, 20 prompts, 256 in / 128 out
#   run_benchmark.sh --single 8          # one point
#   run_benchmark.sh --min-concurrency 1 --max-concurrency 16 --step 4     # 1, 5, 9, 13
#   run_benchmark.sh --min-concurrency 1 --max-concurrency 32 --step x2    # 1, 2, 4, ..., 32
# Environment (flags win): VLLM_SERVER_URL, MODEL, TOKENIZER, NUM_PROMPTS, INPUT_LEN, OUTPUT_LEN,
# DATASET_NAME, DATASET_PATH, RESULTS_DIR. Each point saves results_<concurrency>_<timestamp>.json
# in RESULTS_DIR.
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Flags:
  --single N               run one concurrency N
  --list C1,C2,...         run these concurrencies, in this order
  --min-concurrency N      first concurrency (default 1)
  --max-concurrency N      last concurrency (default 32)
  --step S                 add S each time, or xS to multiply (default x2)
  --num-prompts N          prompts per point (default $NUM_PROMPTS or 20)
  --input-len N            random input tokens (default $INPUT_LEN or 256)
  --output-len N           random output tokens (default $OUTPUT_LEN or 128)
  --dataset-name NAME      random (default), sharegpt or custom
  --dataset-path PATH      prompts file for datasets other than random
  --request-rate R         requests/s, or inf (default)
  --temperature T          sampling temperature (default 0)
  --seed N                 random seed (default 0)
  --goodput "K:V ..."      SLOs in ms, e.g. "ttft:500 tpot:50"
  --no-ignore-eos          let outputs stop at EOS (default: always generate output-len tokens)
  --metadata K=V           extra key saved in each result (repeatable)
  --results-dir DIR        where results go (default $RESULTS_DIR or /root/bench_results)
  --wait SECONDS           wait up to SECONDS for /health (default: check once)
  -h, --help               this help
EOF
}

die() { echo "run_benchmark.sh: $*" >&2; exit 1; }

server_url=${VLLM_SERVER_URL:-http://localhost:8000}
model=${MODEL:-}
tokenizer=${TOKENIZER:-}
num_prompts=${NUM_PROMPTS:-20}
input_len=${INPUT_LEN:-256}
output_len=${OUTPUT_LEN:-128}
results_dir=${RESULTS_DIR:-/root/bench_results}
min_c=1 max_c=32 step=x2 single="" list=""
dataset=${DATASET_NAME:-random} dataset_path=${DATASET_PATH:-} request_rate=inf temperature=0 seed=0 goodput="" ignore_eos=1
wait_s=0
metadata=()

while (($#)); do
  case $1 in
    --single) single=${2:?--single needs a value}; shift 2 ;;
    --list) list=${2:?--list needs values such as 1,4,16}; shift 2 ;;
    --min-concurrency) min_c=${2:?}; shift 2 ;;
    --max-concurrency) max_c=${2:?}; shift 2 ;;
    --step) step=${2:?}; shift 2 ;;
    --num-prompts) num_prompts=${2:?}; shift 2 ;;
    --input-len) input_len=${2:?}; shift 2 ;;
    --output-len) output_len=${2:?}; shift 2 ;;
    --dataset-name) dataset=${2:?}; shift 2 ;;
    --dataset-path) dataset_path=${2:?}; shift 2 ;;
    --request-rate) request_rate=${2:?}; shift 2 ;;
    --temperature) temperature=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --goodput) goodput=${2:?}; shift 2 ;;
    --no-ignore-eos) ignore_eos=0; shift ;;
    --metadata) metadata+=("${2:?}"); shift 2 ;;
    --results-dir) results_dir=${2:?}; shift 2 ;;
    --wait) wait_s=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag $1 (see --help)" ;;
  esac
done

is_int() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1)); }
for pair in "num-prompts:$num_prompts" "input-len:$input_len" "output-len:$output_len" \
            "min-concurrency:$min_c" "max-concurrency:$max_c"; do
  is_int "${pair#*:}" || die "--${pair%%:*} must be a whole number of 1 or more, not '${pair#*:}'"
done

# The concurrency points.
points=()
if [[ -n $list ]]; then
  IFS=, read -r -a points <<<"$list"
  for c in "${points[@]}"; do
    is_int "$c" || die "--list takes whole numbers of 1 or more, such as 1,4,16, not '$list'"
  done
elif [[ -n $single ]]; then
  is_int "$single" || die "--single must be a whole number of 1 or more, not '$single'"
  points=("$single")
else
  ((min_c <= max_c)) || die "--min-concurrency $min_c is above --max-concurrency $max_c"
  if [[ $step == x* ]]; then
    factor=${step#x}
    is_int "$factor" && ((factor >= 2)) || die "--step x$factor: the factor must be 2 or more"
    for ((c = min_c; c <= max_c; c *= factor)); do points+=("$c"); done
  else
    is_int "$step" || die "--step must be N (add N) or xN (multiply by N), not '$step'"
    for ((c = min_c; c <= max_c; c += step)); do points+=("$c"); done
  fi
fi

# Ask the server before sending anything: healthy, serving which model, how long a context
# (http_check.py beside this script: the containers' one readiness poll).
info=$(python3 "$(dirname "$0")/http_check.py" "$server_url" --wait "$wait_s" --served "$model") || exit 1
read -r served_model max_model_len model_root <<<"$info"
model=${model:-$served_model}
tokenizer=${tokenizer:-$model_root}

if [[ $dataset == random ]] && ((max_model_len > 0)) && ((input_len + output_len > max_model_len)); then
  die "input-len + output-len = $input_len + $output_len = $((input_len + output_len)) exceeds the" \
      "server's max model length $max_model_len; lower --output-len to $((max_model_len - input_len))" \
      "or restart the server with a larger --max-model-len"
fi

mkdir -p "$results_dir"
[[ $dataset =~ ^[a-z_]+$ ]] || die "--dataset-name must be random, sharegpt or custom, not '$dataset'"
dataset_args=()
if [[ $dataset != random ]]; then
  [[ -n $dataset_path ]] || die "--dataset-name $dataset needs --dataset-path"
  dataset_args+=(--dataset-path "$dataset_path")
fi
# bench_points.py turns the dataset into vLLM's flags (the one place that does).
workload="{\"dataset\": {\"name\": \"$dataset\", \"input_len\": $input_len, \"output_len\": $output_len}}"
extra=()
((ignore_eos)) && extra+=(--ignore-eos)
[[ -n $goodput ]] && read -r -a slo <<<"$goodput" && extra+=(--goodput "${slo[@]}")

echo "run_benchmark.sh: $model at $server_url, ${#points[@]} point(s): ${points[*]}," \
     "$num_prompts prompts, $input_len in / $output_len out"
# All points in one process (bench_points.py): vLLM's benchmark is imported once, not per point.
stamp=$(date -u +%Y%m%d-%H%M%S)
point_args=() meta_args=()
for c in "${points[@]}"; do point_args+=(--point "$c" "results_${c}_${stamp}.json" w); done
for m in "input_len=$input_len" "output_len=$output_len" "num_prompts=$num_prompts" \
         "dataset=$dataset" ${metadata[@]+"${metadata[@]}"}; do
  meta_args+=(--metadata "$m")
done
exec python3 "$(dirname "$0")/bench_points.py" --workload w "$workload" "${point_args[@]}" \
  --result-dir "$results_dir" "${meta_args[@]}" -- \
  --backend openai --base-url "$server_url" --endpoint /v1/completions \
  --model "$model" --tokenizer "$tokenizer" \
  ${dataset_args[@]+"${dataset_args[@]}"} --num-prompts "$num_prompts" \
  --request-rate "$request_rate" --temperature "$temperature" --seed "$seed" "${extra[@]}"
