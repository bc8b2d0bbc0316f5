#!/usr/bin/env bash
# What the background purge costs on a data dir: our server on a copy of DIR (left untouched)
# with a purge every 10 s, its RSS and CPU time every 5 s, then the purges' and compactions' log
# lines (records read, took_ms).
#
#   bench/purge_watch.sh BIN DIR [SECONDS]     e.g. BIN=target/release/adapter-http and the
#                                              fresh 100 k-family dir bench/run.sh leaves in
#                                              /tmp/bench-ours.*
set -euo pipefail
BIN=$1 SRC=$2 SECONDS_TO_WATCH=${3:-40}
PORT=${PORT:-18555}
DATA=$(mktemp -d /tmp/purge-watch.XXXXXX); LOG=$DATA.log
cp -r "$SRC/." "$DATA"
taskset -c 0 "$BIN" --listen 127.0.0.1:$PORT --data-dir "$DATA" --purge-every-s 10 > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA" "$LOG"' EXIT
TICK=$(getconf CLK_TCK)
for i in $(seq 1 "$SECONDS_TO_WATCH"); do
  sleep 1
  if [ $((i % 5)) = 0 ]; then
    echo "t=${i}s rss_mb=$(awk '/VmRSS/{printf "%.1f", $2/1024}' /proc/$PID/status)" \
      "cpu_s=$(awk -v t="$TICK" '{printf "%.1f", ($14+$15)/t}' /proc/$PID/stat)"
  fi
done
grep -E "purged expired records|compacted the records database" "$LOG" \
  | sed -E 's/.*(purged expired records|compacted the records database online)/\1/; s/ report=PurgeReport \{[^}]*\}//'
