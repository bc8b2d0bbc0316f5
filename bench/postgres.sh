#!/usr/bin/env bash
# The embedded store against PostgreSQL, and 1, 2 and 3 instances on PostgreSQL behind HAProxy
# (docs/haproxy.cfg), in one run: client credentials, refresh and the code flow (SSO: authorize
# with a live session, then the token request) at one concurrency. Writes
# conformance-reports/performance-postgres.md; raw results under target/bench/postgres-*/.
#
#   bench/postgres.sh                 # about 6 minutes
#   DURATION=3 WARMUP=1 bench/postgres.sh   # a smoke run
#
# Env: SCENARIOS="cc refresh sso"  CONNS=16  DURATION=10  WARMUP=2  MODES="sled pg1 pg2 pg3"
# The servers and PostgreSQL share core 0; the load generator and HAProxy run on core 1. On this
# 2-core box more instances cannot add capacity: the point of pg2/pg3 is what they cost, and the
# database CPU and round trips per request, from which larger machines can be projected.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIOS=${SCENARIOS:-"cc refresh sso"}; CONNS=${CONNS:-16}
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-2}; MODES=${MODES:-"sled pg1 pg2 pg3"}
OUT=${OUT:-$ROOT/target/bench/postgres-$(date +%Y%m%dT%H%M%S)}
mkdir -p "$OUT"

command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; }
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)
[ -n "$PG_BIN" ] || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1); }

# A throwaway cluster on a unix socket, started on the servers' core (its backends inherit it).
PGDIR=$(mktemp -d /tmp/bench-pg.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDIR"
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$PG_BIN/initdb" -D "$PGDIR/data" -U oidc --auth=trust -E UTF8 > "$OUT/initdb.log"
as_pg taskset -c 0 "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start \
  -o "-k $PGDIR -p $PG_PORT -c listen_addresses='' -c max_connections=200" > /dev/null
stop_pg() {
  "$PG_BIN/psql" -h "$PGDIR" -p "$PG_PORT" -U oidc -d postgres -Atc "SELECT 1" >/dev/null 2>&1 && for db in $("$PG_BIN/psql" -h "$PGDIR" -p "$PG_PORT" -U oidc -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'bench_%'"); do
    "$PG_BIN/psql" -h "$PGDIR" -p "$PG_PORT" -U oidc -d "$db" -c "SELECT relname, n_live_tup, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd > 0 ORDER BY relname" > "$OUT/tables-$db.txt" 2>&1 || true
  done
  as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop > /dev/null 2>&1 || true; cp "$PGDIR/log" "$OUT/postgres.log" 2>/dev/null || true; rm -rf "$PGDIR"; }
trap stop_pg EXIT

# Every instance over PostgreSQL needs the same system secret (it seals the signing keys).
export OP_SYSTEM_SECRET=${OP_SYSTEM_SECRET:-bench/postgres.sh: a system secret for the benchmark only}

for mode in $MODES; do
  case $mode in
    sled) args=""; instances=1; db="" ;;
    pg[1-9])
      instances=${mode#pg}
      as_pg "$PG_BIN/createdb" -h "$PGDIR" -p "$PG_PORT" -U oidc "bench_$mode"
      args="--database-url postgres://oidc@localhost:$PG_PORT/bench_$mode?host=$PGDIR${PG_URL_EXTRA:-}"; db=$PGDIR/data ;;
    *) echo "unknown mode $mode" >&2; exit 1 ;;
  esac
  echo "== $mode" >&2
  OURS_ARGS="$args --log-level warn" OURS_INSTANCES=$instances DB_DATA_DIR=$db SERVERS=ours FAMILIES=0 FLOOR=0 \
    SCENARIOS="$SCENARIOS" CONNS="$CONNS" DURATION=$DURATION WARMUP=$WARMUP OUT="$OUT/$mode" bash "$ROOT/bench/run.sh"
done

python3 "$ROOT/bench/postgres_report.py" "$OUT" $MODES > "$ROOT/conformance-reports/performance-postgres.md"
echo "wrote conformance-reports/performance-postgres.md (raw: $OUT)" >&2
