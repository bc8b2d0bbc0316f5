#!/usr/bin/env bash
# Side-by-side benchmark: this provider against panva's node-oidc-provider, in one run.
#
#   bench/run.sh                      # everything (about 25 minutes on 2 cores)
#   QUICK=1 bench/run.sh              # 3 s per point, concurrency 16 only (a smoke run)
#
# Each server is pinned to core 0 (taskset) and the load generator to core 1. For every scenario
# and concurrency the two servers are measured in turn (ours, then the peer). Writes
# conformance-reports/performance.md and performance.json; raw output under target/bench/.
#
# Env: SCENARIOS="discovery jwks cc introspect refresh sso login"  CONNS="1 4 16 64"
#      DURATION=10 WARMUP=2  ALG=ES256|RS256 (ID token algorithm on both servers)
#      SERVERS="ours peer"  FAMILIES=100000 (refresh-token families for the RSS check; 0 skips)
#      PEER_HOME (../shared/peers/node-oidc-provider)  PEER_DIR (/tmp/peer, where npm installs it)
#      FLOOR=0 (skip the floor micro-benchmark and the report: raw results only)
#      OURS_ARGS (extra flags for our server, e.g. "--sled-cache-mb 4"; empty by default)
#      OURS_BIN (our server's executable, or a wrapper that execs it; the release build by default)
#      FLOW_DRIVER (the browser-flow driver: the release build of bench/driver by default;
#                   "node bench/flows.mjs" is the first driver, kept to compare: it saturates its core)
#      OURS_INSTANCES=N (with --database-url in OURS_ARGS: N instances behind HAProxy running
#                   docs/haproxy.cfg on OURS_PORT, their CPU summed; bench/postgres.sh uses it)
#      DB_DATA_DIR (a PostgreSQL data dir: its processes' CPU per request is reported too)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/bench
PEER_HOME=${PEER_HOME:-$ROOT/../shared/peers/node-oidc-provider}
PEER_DIR=${PEER_DIR:-/tmp/peer}
PEER_VERSION=${PEER_VERSION:-8.8.1}
if [ "${QUICK:-0}" = 1 ]; then
  : "${DURATION:=3}" "${WARMUP:=1}" "${CONNS:=16}" "${FAMILIES:=0}"
fi
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-2}; CONNS=${CONNS:-"1 4 16 64"}
SCENARIOS=${SCENARIOS:-"discovery jwks cc introspect refresh sso login"}
SERVERS=${SERVERS:-"ours peer"}
ALG=${ALG:-ES256}
FAMILIES=${FAMILIES:-100000}
OUT=${OUT:-$ROOT/target/bench/$(date +%Y%m%dT%H%M%S)}
REPORT=${REPORT:-$ROOT/conformance-reports/performance}
OURS_PORT=${OURS_PORT:-8090}; PEER_PORT=${PEER_PORT:-3000}; METRICS_PORT=${METRICS_PORT:-8091}
SERVER_CPU=0; LOAD_CPU=1
read -r -a OURS_EXTRA <<< "${OURS_ARGS:-}"
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl; : > "$RESULTS"
dirty=false; [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] && dirty=true
echo "{\"scenario\":\"meta\",\"commit\":\"$(git -C "$ROOT" rev-parse --short HEAD)\",\"dirty\":$dirty,\"started\":\"$(date -u '+%Y-%m-%d %H:%M UTC')\",\"ours_args\":\"${OURS_ARGS:-}\"}" >> "$RESULTS"

# --- tools ---------------------------------------------------------------------------------
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [[ " $SERVERS " == *" peer "* ]] && [ ! -d "$PEER_DIR/node_modules/oidc-provider" ]; then
  mkdir -p "$PEER_DIR" && (cd "$PEER_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund "oidc-provider@$PEER_VERSION" >/dev/null)
fi
(cd "$ROOT" && cargo build --release -j2 -q -p adapter-http -p flow-driver)
BIN=${OURS_BIN:-$ROOT/target/release/adapter-http}
read -r -a DRIVER <<< "${FLOW_DRIVER:-$ROOT/target/release/flow-driver}"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_up() { # url
  for _ in $(seq 1 100); do curl -sf -m 1 -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "server at $1 did not come up" >&2; return 1
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# --- our server: fresh data dir, demo tenant; a bench client and user via the Admin API -------
OURS_INSTANCES=${OURS_INSTANCES:-1}
run_ours() { # log file: our server on $OURS_DATA (or N instances behind HAProxy), appending to the log
  OURS_BASE=http://127.0.0.1:$OURS_PORT
  if [ "$OURS_INSTANCES" = 1 ]; then
    taskset -c $SERVER_CPU "$BIN" --listen 127.0.0.1:$OURS_PORT --data-dir "$OURS_DATA" \
      --token-rate-per-ip 0 --token-rate-per-client 0 --login-rate-per-ip 0 --metrics-listen 127.0.0.1:$METRICS_PORT \
      "${OURS_EXTRA[@]}" >> "$1" 2>&1 &
    OURS_PID=$!; PIDS+=("$OURS_PID"); OURS_METRICS=http://127.0.0.1:$METRICS_PORT/metrics
    wait_up "$OURS_BASE/healthz"
    return
  fi
  local pids=() metrics=() k lb_env=(OIDC_LB_BIND=127.0.0.1:$OURS_PORT)
  # Instance k listens on OURS_PORT+10+k, its metrics on METRICS_PORT+20+k.
  for k in $(seq 1 "$OURS_INSTANCES"); do
    taskset -c $SERVER_CPU "$BIN" --listen 127.0.0.1:$((OURS_PORT + 10 + k)) --data-dir "$OURS_DATA/$k" \
      --issuer-base "$OURS_BASE" --trusted-proxies 127.0.0.1 \
      --token-rate-per-ip 0 --token-rate-per-client 0 --login-rate-per-ip 0 --metrics-listen 127.0.0.1:$((METRICS_PORT + 20 + k)) \
      "${OURS_EXTRA[@]}" >> "$1" 2>&1 &
    pids+=($!); PIDS+=($!); metrics+=("http://127.0.0.1:$((METRICS_PORT + 20 + k))/metrics")
    wait_up "http://127.0.0.1:$((OURS_PORT + 10 + k))/healthz"
    lb_env+=("OIDC_INSTANCE_$(echo ABC | cut -c"$k")=127.0.0.1:$((OURS_PORT + 10 + k))")
  done
  # The operations doc's HAProxy config, without the server lines of instances not started; on
  # the load generator's core (it is part of the client side here).
  sed -E "/server [abc] /{/server ($(echo abc | cut -c1-"$OURS_INSTANCES" | sed 's/./&|/g; s/|$//')) /!d}" \
    "$ROOT/docs/haproxy.cfg" > "$OUT/haproxy.cfg"
  env "${lb_env[@]}" taskset -c $LOAD_CPU "$(command -v haproxy || echo /usr/sbin/haproxy)" -db -f "$OUT/haproxy.cfg" >> "$OUT/haproxy.log" 2>&1 &
  PIDS+=($!)
  OURS_PID=$(IFS=,; echo "${pids[*]}"); OURS_METRICS=$(IFS=,; echo "${metrics[*]}")
  wait_up "$OURS_BASE/healthz"
}

start_ours() { # [log file]: a fresh data dir
  local log=${1:-$OUT/ours.log}
  OURS_DATA=$(mktemp -d /tmp/bench-ours.XXXXXX)
  run_ours "$log"
  local admin_secret="" admin
  for _ in $(seq 1 50); do
    admin_secret=$(awk '/admin client_secret:/{print $3}' "$log"); [ -n "$admin_secret" ] && break; sleep 0.1
  done
  admin=$(curl -sf -u "admin:$admin_secret" -d grant_type=client_credentials -d scope=admin "$OURS_BASE/system/token" | json_field access_token)
  OURS_SECRET=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d "{\"client_id\":\"bench-client\",\"name\":\"Bench\",\"redirect_uris\":[\"http://127.0.0.1:9/cb\"],
         \"grant_types\":[\"authorization_code\",\"refresh_token\",\"client_credentials\"],
         \"require_consent\":true,\"id_token_signed_response_alg\":\"$ALG\",\"access_token_signed_response_alg\":\"$ALG\"}" \
    "$OURS_BASE/admin/v1/tenants/demo/clients" | json_field client_secret)
  curl -sf -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"username":"alice","password":"bench-password-1","email":"alice@example.com","name":"Alice Example"}' \
    "$OURS_BASE/admin/v1/tenants/demo/users"
  OURS_ISSUER=$OURS_BASE/demo
}

start_peer() {
  cp "$PEER_HOME/provider.mjs" "$PEER_DIR/provider.mjs"
  (cd "$PEER_DIR" && NODE_ENV=production PORT=$PEER_PORT ID_TOKEN_ALG=$ALG MAX_LIFETIME_S=7200 QUIET=1 \
    setsid taskset -c $SERVER_CPU node provider.mjs > "$OUT/peer.log" 2>&1 < /dev/null &)
  PEER_ISSUER=http://127.0.0.1:$PEER_PORT
  wait_up "$PEER_ISSUER/.well-known/openid-configuration"
  PEER_PID=$(pgrep -n -f "^node provider.mjs"); PIDS+=("$PEER_PID")
}

# server name -> issuer, pid, client id/secret, user, password, cc body, metrics URL (ours only:
# the server's own count of password checks and their CPU time, for the login flow's argon2id share)
server_env() {
  case $1 in
    ours) ISSUER=$OURS_ISSUER PID=$OURS_PID CID=bench-client CSECRET=$OURS_SECRET USER_=alice PASS=bench-password-1
          CC_BODY="grant_type=client_credentials" METRICS=$OURS_METRICS ;;
    peer) ISSUER=$PEER_ISSUER PID=$PEER_PID CID=peer-client CSECRET=peer-secret-0123456789abcdef USER_=alice PASS=x
          CC_BODY="grant_type=client_credentials&scope=api%3Aread" METRICS= ;;
  esac
  AUTH="Basic $(printf '%s:%s' "$CID" "$CSECRET" | base64 -w0)"
  DISCOVERY=$(curl -sf "$ISSUER/.well-known/openid-configuration")
  ep() { echo "$DISCOVERY" | json_field "$1"; }
}

cpu_ticks() { # pid[,pid...]: their CPU ticks, summed
  local t=0 p
  for p in ${1//,/ }; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $t
}
# The database's processes (the postmaster and its children), comma-separated; empty without one.
db_pids() {
  [ -n "${DB_DATA_DIR:-}" ] || return 0
  local pm; pm=$(head -1 "$DB_DATA_DIR/postmaster.pid")
  echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')" | xargs | tr ' ' ','
}
# A counter of the metrics, summed over every instance (statement flights to the database, its
# conflicts).
metric_sum() { # name
  local t=0 m v
  for m in ${METRICS//,/ }; do
    v=$(curl -sf "$m" | awk -v n="$1" '$1==n{print $2}')
    t=$((t + ${v:-0}))
  done
  echo $t
}
# The load generator's core: "busy total" jiffies from /proc/stat (idle and iowait are not busy).
# A point whose generator core is ~100 % busy measured the generator, not the server.
load_ticks() { awk -v c="cpu$LOAD_CPU" '$1==c{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat; }
load_busy() { # "busy0 total0" "busy1 total1" -> percent
  python3 -c 'import sys; b0,t0=map(int,sys.argv[1].split()); b1,t1=map(int,sys.argv[2].split()); print(round(100*(b1-b0)/max(t1-t0,1)))' "$1" "$2"
}
status_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/${1%%,*}/status"; }

# One wrk point: server scenario conns url [VAR=val ...]
wrk_point() {
  local server=$1 scenario=$2 conns=$3 url=$4; shift 4
  env "$@" LABEL=warmup taskset -c $LOAD_CPU wrk -t1 -c"$conns" -d"${WARMUP}s" -s "$HERE/wrk_report.lua" "$url" > /dev/null
  local c0 c1 l0 l1 raw dbp d0 d1 r0 r1 x0 x1
  dbp=$(db_pids)
  c0=$(cpu_ticks "$PID"); l0=$(load_ticks); d0=$(cpu_ticks "$dbp")
  r0=$(metric_sum oidc_database_round_trips_total); x0=$(metric_sum oidc_database_conflicts_total)
  raw=$(env "$@" LABEL="$server/$scenario/$conns" taskset -c $LOAD_CPU wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s \
    -s "$HERE/wrk_report.lua" "$url" | grep '^WRK_JSON ' | cut -d' ' -f2-)
  c1=$(cpu_ticks "$PID"); l1=$(load_ticks); d1=$(cpu_ticks "$dbp")
  r1=$(metric_sum oidc_database_round_trips_total); x1=$(metric_sum oidc_database_conflicts_total)
  python3 - "$raw" "$server" "$scenario" "$conns" "$c0" "$c1" "$(getconf CLK_TCK)" \
    "$(status_kb "$PID" VmRSS)" "$(status_kb "$PID" VmHWM)" "$(load_busy "$l0" "$l1")" "$dbp" "$d0" "$d1" "$r0" "$r1" "$x0" "$x1" >> "$RESULTS" <<'PY'
import json, sys
raw, server, scenario, conns, c0, c1, clk, rss, hwm, load, dbp, d0, d1, r0, r1, x0, x1 = sys.argv[1:]
d = json.loads(raw)
cpu = (int(c1) - int(c0)) / int(clk)
n = max(d["requests"], 1)
d.update(server=server, scenario=scenario, concurrency=int(conns), server_cpu_s=round(cpu, 2), load_core_busy_pct=int(load),
         server_cpu_us_per_req=round(cpu / n * 1e6, 1),
         rss_mb_after=round(int(rss) / 1024, 1), rss_mb_peak_process=round(int(hwm) / 1024, 1))
if dbp:
    d.update(db_cpu_us_per_req=round((int(d1) - int(d0)) / int(clk) / n * 1e6, 1),
             db_round_trips_per_req=round((int(r1) - int(r0)) / n, 2), db_conflicts=int(x1) - int(x0))
print(json.dumps(d))
PY
  tail -n1 "$RESULTS" >&2
}

flow_point() { # server scenario conns
  local server=$1 scenario=$2 conns=$3 l0 raw
  # The generator's core is sampled around the whole run (warm-up included: both load it alike).
  l0=$(load_ticks)
  raw=$(taskset -c $LOAD_CPU "${DRIVER[@]}" --issuer "$ISSUER" --client-id "$CID" --client-secret="$CSECRET" \
    --username "$USER_" --password="$PASS" --mode "$scenario" --concurrency "$conns" \
    --duration "$DURATION" --warmup "$WARMUP" --server-pid "$PID" --label "$server/$scenario/$conns" ${METRICS:+--metrics "$METRICS"} \
    $(dbp=$(db_pids); [ -n "$dbp" ] && echo "--db-pids $dbp"))
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(server=sys.argv[2], scenario=sys.argv[3], load_core_busy_pct=int(sys.argv[4])); print(json.dumps(d))' \
      "$raw" "$server" "$scenario" "$(load_busy "$l0" "$(load_ticks)")" >> "$RESULTS"
  tail -n1 "$RESULTS" >&2
}

point() { # server scenario conns
  server_env "$1"
  case $2 in
    discovery) wrk_point "$1" "$2" "$3" "$ISSUER/.well-known/openid-configuration" ;;
    jwks)      wrk_point "$1" "$2" "$3" "$(ep jwks_uri)" ;;
    cc)        wrk_point "$1" "$2" "$3" "$(ep token_endpoint)" METHOD=POST AUTH="$AUTH" BODY="$CC_BODY" ;;
    introspect)
      local tok
      tok=$(curl -sf -H "Authorization: $AUTH" -d "$CC_BODY" "$(ep token_endpoint)" | json_field access_token)
      wrk_point "$1" "$2" "$3" "$(ep introspection_endpoint)" METHOD=POST AUTH="$AUTH" BODY="token=$tok&token_type_hint=access_token"
      [ "$(curl -sf -H "Authorization: $AUTH" --data-urlencode "token=$tok" "$(ep introspection_endpoint)" | json_field active)" = True ] ||
        echo "WARNING: $1 introspected token not active after the run" >&2 ;;
    refresh|sso|login) flow_point "$1" "$2" "$3" ;;
  esac
}

# --- run -------------------------------------------------------------------------------------
for s in $SERVERS; do "start_$s"; done
for s in $SERVERS; do
  server_env "$s"
  echo "{\"server\":\"$s\",\"scenario\":\"idle\",\"rss_mb_after\":$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/${PID%%,*}/status")}" >> "$RESULTS"
done
for sc in $SCENARIOS; do
  for c in $CONNS; do
    for s in $SERVERS; do point "$s" "$sc" "$c"; done
  done
done

# --- 100,000 refresh-token families on disk: our RSS after a restart and under load ----------
# The 16 refresh tokens the load starts from are taken before the restart, so the restarted
# server first serves refreshes without logging anyone in (argon2id keeps a 19 MiB working
# buffer after a login); a second run then starts from 16 logins in the same process.
# Measured twice: on a fresh data dir holding the families (the target's condition), and on the
# run's own data dir, which also holds every record the scenarios above left (stricter: sled's
# memory at open follows the size of its files).
families_check() { # dir-label log: fill, save tokens, restart on the same dir, measure
  local label=$1 log=$2
  server_env ours
  fam_flows() { # mode extra-args...: one flows.mjs run against our server, JSON on stdout
    local mode=$1; shift
    taskset -c $LOAD_CPU "${DRIVER[@]}" --issuer "$ISSUER" --client-id "$CID" --client-secret="$CSECRET" \
      --username alice --password bench-password-1 --mode "$mode" --concurrency 16 --warmup 0 "$@"
  }
  fam_flows sso --flows "$FAMILIES" > "$OUT/fill-$label.json"
  local tokens=$OUT/families-$label.tokens; rm -f "$tokens"
  fam_flows refresh --duration 1 --token-file "$tokens" > /dev/null
  kill "$OURS_PID"; wait "$OURS_PID" 2>/dev/null || true
  run_ours "$log"
  server_env ours
  fam_flows refresh --duration "$DURATION" --token-file "$tokens" --server-pid "$PID" > "$OUT/families-$label-refresh.json"
  local hwm_no_login; hwm_no_login=$(status_kb "$OURS_PID" VmHWM)
  fam_flows refresh --duration "$DURATION" --server-pid "$PID" > "$OUT/families-$label-refresh-login.json"
  python3 - "$OUT" "$label" "$(du -sk "$OURS_DATA" | cut -f1)" "$hwm_no_login" "$(status_kb "$OURS_PID" VmHWM)" >> "$RESULTS" <<'PY'
import json, sys
out, label, data_kb, hwm, hwm_login = sys.argv[1:]
fill = json.load(open(f"{out}/fill-{label}.json"))
runs = [json.load(open(f"{out}/families-{label}-{n}.json")) for n in ("refresh", "refresh-login")]
print(json.dumps({"server": "ours", "scenario": "families", "data_dir": label, "families": fill["flows"],
                  "fill_errors": fill["errors"], "data_dir_mb": round(int(data_kb) / 1024, 1),
                  "rss_mb_peak_process": round(int(hwm) / 1024, 1),
                  "rss_mb_peak_with_logins": round(int(hwm_login) / 1024, 1),
                  "refresh_rps": [r["rps"] for r in runs], "refresh_errors": sum(r["errors"] for r in runs)}))
PY
  tail -n1 "$RESULTS" >&2
}
if [ "$FAMILIES" -gt 0 ] && [[ " $SERVERS " == *" ours "* ]]; then
  families_check run "$OUT/ours.log"
  kill "$OURS_PID"; wait "$OURS_PID" 2>/dev/null || true
  start_ours "$OUT/ours-families.log"
  families_check fresh "$OUT/ours-families.log"
fi

# --- the floor: bare crypto and storage costs on this machine -------------------------------
if [ "${FLOOR:-1}" = 0 ]; then echo "raw results: $RESULTS (FLOOR=0: no floor, no report)" >&2; exit 0; fi
(cd "$ROOT" && taskset -c $SERVER_CPU cargo bench -q -j2 -p adapter-http --bench floor) | grep '^{' > "$OUT/floor.jsonl"

python3 "$HERE/report.py" --results "$RESULTS" --floor "$OUT/floor.jsonl" --alg "$ALG" \
  --duration "$DURATION" --peer-version "$PEER_VERSION" --out "$REPORT"
echo "wrote $REPORT.md and $REPORT.json (raw: $OUT)" >&2
