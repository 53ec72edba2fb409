#!/usr/bin/env bash
# Install orchestrator into its own environment, .venv/ beside this repository (never into the
# system Python: on Debian as root `pip install .` there replaces Debian's own packages):
#   host_scripts/install.sh [EXTRA]     # EXTRA: an optional-dependency group, e.g. test
#   host_scripts/install.sh --venv-only # only make .venv (run_tests.sh, before its background work)
# On Debian as root it first installs python3-venv when the interpreter cannot make one.
# Prints nothing but errors; the log is .venv/install.log.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
extra=${1:+[$1]}
[[ ${1:-} == --venv-only ]] && extra=

if [[ ! -x .venv/bin/python ]]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      apt-get update -qq >/dev/null 2>&1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv \
        >/dev/null 2>&1
      python3 -m venv .venv
    else
      echo "install.sh: python3 cannot make a virtual environment; install python3-venv" >&2
      exit 1
    fi
  fi
fi
[[ ${1:-} == --venv-only ]] && exit 0
log=.venv/install.log
if ! .venv/bin/python -m pip install -e ".$extra" >"$log" 2>&1; then
  cat "$log" >&2
  echo "install.sh: installing the package${extra:+ and its $1 dependencies} failed (log above)" >&2
  exit 1
fi
