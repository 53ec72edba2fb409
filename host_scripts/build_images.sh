#!/usr/bin/env bash
# Build orchestrator's images, reusing any whose inputs have not changed.
#   host_scripts/build_images.sh [cpu] [gpu]      (default: cpu)
# Each tag carries a hash of the image's inputs (Dockerfile, pinned packages, scripts, base), so
# an unchanged image is found and reused. The CPU image is also tagged orchestrator-vllm-cpu:local,
# the name examples/cpu-tiny.yaml uses. Tags go to stdout, progress to stderr.
# The CPU image needs no registry: a debootstrap base, and wheels downloaded here with pip.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
images=$repo/images
cache=${ORCHESTRATOR_CACHE:-$HOME/.cache/orchestrator}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_BUILDKIT=0   # Debian's docker.io has no buildx

say() { echo "build_images.sh: $*" >&2; }
inputs_hash() { cat "$@" | sha256sum | cut -c1-12; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

base_image() {
  local tag root packages
  tag="orchestrator-debian-base:$(inputs_hash "$images/base/packages.txt" <(echo "$mirror"))"
  if image_exists "$tag"; then
    say "reusing $tag"
  else
    if ! command -v debootstrap >/dev/null; then
      say "installing debootstrap"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    packages=$(grep -v '^#' "$images/base/packages.txt" | paste -sd, -)
    root=$(mktemp -d)
    say "debootstrap bookworm ($packages) -> $tag"
    debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" \
      >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import - "$tag" >/dev/null
    rm -rf "$root"
  fi
  echo "$tag"
}

cpu_image() {
  local base lock tag wheels context
  base=$(base_image)
  lock=$images/cpu/requirements.lock
  tag="orchestrator-vllm-cpu:$(inputs_hash "$images/cpu/Dockerfile" "$lock" \
        "$repo/container_scripts/make_tiny_model.py" <(echo "$base"))"
  if image_exists "$tag"; then
    say "reusing $tag"
  else
    wheels=$cache/wheels-$(inputs_hash "$lock")
    say "downloading the pinned wheels into $wheels"
    python3 -m pip download --no-deps -q -d "$wheels" -r "$lock" >"$cache/pip-download.log" 2>&1 \
      || { tail -20 "$cache/pip-download.log" >&2; exit 1; }
    context=$(mktemp -d "$cache/context.XXXXXX")
    trap 'rm -rf "$context"' RETURN
    cp "$images/cpu/Dockerfile" "$repo/container_scripts/make_tiny_model.py" "$context/"
    cp -al "$wheels" "$context/wheels" 2>/dev/null || cp -a "$wheels" "$context/wheels"
    say "building $tag (vLLM CPU build + tiny model; a few minutes)"
    docker build -q --build-arg "BASE=$base" -t "$tag" "$context" >"$cache/docker-build.log" 2>&1 \
      || { tail -30 "$cache/docker-build.log" >&2; exit 1; }
  fi
  docker tag "$tag" orchestrator-vllm-cpu:local
  echo "$tag"
}

gpu_image() {
  local upstream tag
  upstream=$(cat "$images/vllm-image.txt")
  tag="orchestrator-vllm-gpu:$(inputs_hash "$images/gpu/Dockerfile" "$images/vllm-image.txt" \
        "$images/gpu/requirements-train.txt" "$repo"/container_scripts/*)"
  if image_exists "$tag"; then
    say "reusing $tag"
  else
    say "building $tag from $upstream"
    docker build -q --build-arg "VLLM_IMAGE=$upstream" -t "$tag" -f "$images/gpu/Dockerfile" "$repo" >&2
  fi
  # trainer.image's default names this tag.
  docker tag "$tag" orchestrator-vllm-gpu:local
  echo "$tag"
}

mkdir -p "$cache"
"$repo/host_scripts/docker_engine.sh" >&2
for which in "${@:-cpu}"; do
  case $which in
    cpu) cpu_image ;;
    gpu) gpu_image ;;
    *) say "unknown image '$which' (cpu or gpu)"; exit 2 ;;
  esac
done
