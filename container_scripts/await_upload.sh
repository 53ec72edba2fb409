#!/bin/sh
# await_upload.sh FOLDER SECONDS: the init container of a resumed trainer's pod. Stays up until
# the orchestrator has sent the run's checkpoint into FOLDER over exec and marked it done
# (FOLDER/.uploaded), so that the trainer starts with it there; fails after SECONDS without it.
set -eu
waited=0
until [ -e "$1/.uploaded" ]; do
  if [ "$waited" -ge "$2" ]; then
    echo "await_upload.sh: nothing was sent into $1 within $2 s (is \`orchestrator up\` still running?)" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
