#!/usr/bin/env bash
# Stability check for issue 9: run .ci/run N times in a row in one clone, and after each run count the processes
# left from that clone (their command lines contain its path). One line per run goes to LOG; each run's output to
# LOG.runI. Use a fresh clone, and do not load the machine meanwhile (each run takes about 5 minutes here).
#
#   git clone -q . /tmp/ci-loop && nohup benchmarks/ci_loop.sh /tmp/ci-loop 10 /tmp/ci-loop.log &
set -u
CLONE=$(cd "$1" && pwd); N=${2:-10}; LOG=$3
cd "$CLONE"
for i in $(seq 1 "$N"); do
  start=$(date +%s)
  .ci/run > "$LOG.run$i" 2>&1; rc=$?
  end=$(date +%s)
  sleep 2
  left=$(ps -eo pid,args | grep -F "$CLONE" | grep -v -e grep -e ci_loop.sh | wc -l)
  summary=$(grep -E "^=+ .*(passed|failed|error).* in " "$LOG.run$i" | tail -1)
  echo "run $i rc=$rc $((end-start))s leftover=$left :: $summary" >> "$LOG"
  if [ "$left" != "0" ]; then ps -eo pid,args | grep -F "$CLONE" | grep -v -e grep -e ci_loop.sh >> "$LOG"; fi
done
echo finished >> "$LOG"
