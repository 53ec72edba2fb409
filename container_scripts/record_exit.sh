#!/bin/sh
# record_exit.sh FILE COMMAND...: run COMMAND, then write its exit code into FILE, so that a
# container beside it in the pod (keep_results.sh) knows that it has ended. SIGTERM and SIGINT
# are passed on to COMMAND.
set -u
file=$1
shift
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  wait "$child"
  code=$?
  kill -0 "$child" 2>/dev/null || break   # still there: wait was cut short by a signal
done
echo "$code" > "$file"
exit "$code"
