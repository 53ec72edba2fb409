#!/bin/sh
# keep_results.sh FILE SECONDS: stay up until FILE exists (the main container has ended), then
# SECONDS more, so that its output can still be copied out of the pod over exec
# (`orchestrator up`, or `kubectl cp -c results` by hand). Then the pod, and its Job, complete.
set -u
trap 'exit 0' TERM INT
while [ ! -e "$1" ]; do
  sleep 2
done
sleep "$2" &
wait $!
