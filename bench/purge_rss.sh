#!/usr/bin/env bash
# What one background purge does to our server's RSS.
#
#   bench/purge_rss.sh                       # release build, fresh data dir
#   SECONDS_OF_LOAD=30 bench/purge_rss.sh --sled-cache-mb 4
#
# Starts the server (pinned to core 0) with a purge every PURGE_S seconds, loads the token
# endpoint with client_credentials for SECONDS_OF_LOAD seconds (wrk, 16 connections, core 1: each
# request writes an access-token record and an audit event), then samples VmRSS every 3 s until the
# first purge has run and prints the RSS just before and after it. Nothing is expired yet, so the
# purge only reads: what it adds to RSS is what reading the tables costs. It also prints what the
# purge read and how long it took (from the server's log), and the server's CPU time meanwhile.
# BIN=path runs another build of the server (e.g. an older commit's, for a before/after).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_OF_LOAD=${SECONDS_OF_LOAD:-15}; PURGE_S=${PURGE_S:-$((SECONDS_OF_LOAD + 10))}; PORT=${PORT:-8097}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
(cd "$ROOT" && cargo build --release -j2 -q -p adapter-http)
DATA=$(mktemp -d /tmp/purge-rss.XXXXXX); LOG=$DATA.log; B=http://127.0.0.1:$PORT
BIN=${BIN:-$ROOT/target/release/adapter-http}
taskset -c 0 "$BIN" --listen 127.0.0.1:$PORT --data-dir "$DATA" --token-rate-per-ip 0 \
  --token-rate-per-client 0 --purge-every-s "$PURGE_S" "$@" > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA" "$LOG"' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null $B/healthz && break; sleep 0.1; done
T0=$(date +%s)
for _ in $(seq 50); do grep -q 'admin client_secret:' "$LOG" && break; sleep 0.1; done
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin=$(curl -sf -u "admin:$(awk '/admin client_secret:/{print $3}' "$LOG")" -d grant_type=client_credentials -d scope=admin \
  $B/system/token | json access_token)
secret=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"client_id":"purge-bench","name":"Purge bench","redirect_uris":["http://127.0.0.1:9/cb"],"grant_types":["client_credentials"],"access_token_signed_response_alg":"ES256"}' \
  $B/admin/v1/tenants/demo/clients | json client_secret)
rss() { awk '/^VmRSS:/{printf "%.1f", $2/1024}' /proc/$PID/status; }
cpu_ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
echo "RSS before the load: $(rss) MiB"
METHOD=POST AUTH="Basic $(printf 'purge-bench:%s' "$secret" | base64 -w0)" BODY=grant_type=client_credentials LABEL=load \
  taskset -c 1 wrk -t1 -c16 -d"${SECONDS_OF_LOAD}s" -s "$ROOT/bench/wrk_report.lua" $B/demo/token |
  python3 -c 'import json,sys; d=json.loads(sys.stdin.read().split("WRK_JSON ",1)[1]); print("load: {:,} tokens issued".format(d["requests"]))'
before=$(rss); ticks=$(cpu_ticks)
audit_mb=$([ -d "$DATA/audit" ] && du -sm "$DATA/audit" | cut -f1 || echo 0)
echo "data dir before the purge: $(du -sm "$DATA" | cut -f1) MB, of which sled's audit db $audit_mb MB (on sled, past 64 MiB of records, the server's first compaction check also reads them once)"
while [ $(( $(date +%s) - T0 )) -lt $(( PURGE_S + 6 )) ]; do sleep 3; echo "  t=$(( $(date +%s) - T0 )) s: $(rss) MiB"; done
echo "RSS after the load: $before MiB; after the first purge (t≈${PURGE_S} s): $(rss) MiB"
echo "server CPU from the end of the load to now (the purge, and nothing else running): $(( ($(cpu_ticks) - ticks) * 1000 / $(getconf CLK_TCK) )) ms"
grep -m1 'purged expired records' "$LOG" | grep -o 'deleted=[0-9]* read=[0-9]*\|took_ms=[0-9]*' | tr '\n' ' '; echo
