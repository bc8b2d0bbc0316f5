#!/usr/bin/env bash
# One introspection point against our server alone, for before/after comparisons and profiles:
# a fresh data dir, the bench client, optionally FILL seconds of client_credentials at 16
# connections first (as the full run's cc points fill the store before its introspection
# points), then 2 s of warm-up and DURATION s of introspection of one live token.
#
#   bench/introspect_point.sh                 # empty store
#   FILL=20 bench/introspect_point.sh         # after ~60 k tokens
#   FILL=20 PERF=1 bench/introspect_point.sh  # and a DWARF profile in target/bench/introspect.perf
#
# Env: CONNS=16 DURATION=6 FILL=0 PERF=0 PRELOAD (an allocator to LD_PRELOAD) BIN (release build)
# Prints req/s, latency and the server's CPU µs per request. Server on core 0, wrk on core 1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BIN:-target/release/adapter-http}
CONNS=${CONNS:-16}; DURATION=${DURATION:-6}; FILL=${FILL:-0}; PORT=${PORT:-8090}
[ -x "$BIN" ] || cargo build --release -j2 -q -p adapter-http
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
BASE=http://127.0.0.1:$PORT
DATA=$(mktemp -d /tmp/introspect-point.XXXXXX)
env ${PRELOAD:+LD_PRELOAD=$PRELOAD} taskset -c 0 "$BIN" --listen 127.0.0.1:$PORT --data-dir "$DATA" \
  --token-rate-per-ip 0 --token-rate-per-client 0 > "$DATA.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "$BASE/healthz" && break; sleep 0.1; done
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin_secret=""
for _ in $(seq 1 50); do
  admin_secret=$(awk '/admin client_secret:/{print $3}' "$DATA.log"); [ -n "$admin_secret" ] && break; sleep 0.1
done
admin=$(curl -sf -u "admin:$admin_secret" -d grant_type=client_credentials -d scope=admin "$BASE/system/token" | field access_token)
secret=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"client_id":"bench-client","name":"Bench","redirect_uris":["http://127.0.0.1:9/cb"],"grant_types":["client_credentials"],"access_token_signed_response_alg":"ES256"}' \
  "$BASE/admin/v1/tenants/demo/clients" | field client_secret)
AUTH="Basic $(printf 'bench-client:%s' "$secret" | base64 -w0)"
TOKEN=$(curl -sf -H "Authorization: $AUTH" -d grant_type=client_credentials "$BASE/demo/token" | field access_token)
load() { # label seconds url body
  METHOD=POST AUTH="$AUTH" BODY="$4" LABEL=$1 taskset -c 1 wrk -t1 -c"$CONNS" -d"$2s" -s bench/wrk_report.lua "$3" |
    python3 -c 'import json,sys
for l in sys.stdin:
    if l.startswith("WRK_JSON "):
        d = json.loads(l.split(" ", 1)[1]); print(d["label"], d["rps"], "req/s", d["requests"], "requests", d["lat_ms"], d["non2xx"], "non-2xx")'
}
[ "$FILL" != 0 ] && load fill "$FILL" "$BASE/demo/token" "grant_type=client_credentials"
load warmup 2 "$BASE/demo/introspect" "token=$TOKEN" > /dev/null
ticks() { awk '{print $14+$15}' "/proc/$PID/stat"; }
c0=$(ticks)
PERF_PID=
if [ "${PERF:-0}" = 1 ]; then
  mkdir -p target/bench
  perf record -F 1000 --call-graph dwarf,16384 -o target/bench/introspect.perf -p $PID -- sleep "$DURATION" > /dev/null 2>&1 &
  PERF_PID=$!
fi
out=$(load introspect "$DURATION" "$BASE/demo/introspect" "token=$TOKEN")
c1=$(ticks)
[ -n "$PERF_PID" ] && wait "$PERF_PID"
echo "$out"
python3 -c 'import sys; c,clk,n=map(float,sys.argv[1:]); print(f"server CPU {c/clk/n*1e6:.1f} µs per request")' \
  "$((c1 - c0))" "$(getconf CLK_TCK)" "$(echo "$out" | awk '{print $4}')"
