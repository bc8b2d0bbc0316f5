#!/usr/bin/env bash
# Does the store stay bounded? Runs FLOWS browser flows (live SSO session + remembered consent:
# authorize -> code -> token -> userinfo, one refresh-token family each) against our server in
# CHUNK-sized rounds. After each round the server is stopped, `adapter-http store-stats` counts
# each table's records and bytes, the data dir is measured, and the server is started again on
# the same data dir (so every round also checks a restart).
#
#   bench/store_growth.sh                    # 1,000,000 flows in 10 rounds (~35 min on 2 cores)
#   FLOWS=200000 CHUNK=50000 bench/store_growth.sh
#   STORE=redb bench/store_growth.sh         # the same on a redb data dir (--store redb)
#
# The bench client's tokens are short-lived (ACCESS_TTL=60 s, REFRESH_TTL=120 s) and the purge
# runs every PURGE_S=30 s, so every family is dead a few minutes after its flow and the live set is
# bounded by (flow rate x lifetimes). Codes are kept CODE_REPLAY_GRACE (600 s) past their expiry
# to recognise replays. Audit events are kept for the retention period (90 days by default), so
# their table grows with every flow by design; the report shows it apart.
#
# At the end the stopped server's data dir is compacted (`adapter-http compact`, COMPACT=0 skips it)
# and the server started on it once more for a short round, to show what the space and memory
# come back to.
#
# On sled the data dir holds two databases: the records, and the audit log in `audit/` (apart so
# that sled gives back the records' dead space; see stores/sled/src/audit_db.rs). The
# server rewrites the records database into a new generation (`records.N/`) once its files have
# doubled (online_compact.rs); the report counts those compactions from the server's log. On
# redb the data dir holds one file, `store.redb`, whose freed pages later commits reuse.
#
# Writes conformance-reports/store-growth.md and store-growth.json (store-growth-redb.* for redb);
# raw output under target/bench/. BIN=path runs another build of the server (a before/after).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FLOWS=${FLOWS:-1000000}; CHUNK=${CHUNK:-100000}; CONC=${CONC:-16}
ACCESS_TTL=${ACCESS_TTL:-60}; REFRESH_TTL=${REFRESH_TTL:-120}; PURGE_S=${PURGE_S:-30}
PORT=${PORT:-8097}; COMPACT=${COMPACT:-1}; STORE=${STORE:-sled}
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
OUT=${OUT:-$ROOT/target/bench/growth-$(date +%Y%m%dT%H%M%S)}
REPORT=${REPORT:-$ROOT/conformance-reports/store-growth$([ "$STORE" = sled ] || echo "-$STORE")}
mkdir -p "$OUT"
(cd "$ROOT" && cargo build --release -j2 -q -p adapter-http -p flow-driver)
BIN=${BIN:-$ROOT/target/release/adapter-http}
# The browser-flow driver: the release build of bench/driver ("node bench/flows.mjs" also works).
read -r -a DRIVER <<< "${FLOW_DRIVER:-$ROOT/target/release/flow-driver}"
DATA=$(mktemp -d /tmp/store-growth.XXXXXX)
BASE=http://127.0.0.1:$PORT
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

start() {
  taskset -c 0 "$BIN" --listen 127.0.0.1:$PORT --data-dir "$DATA" --store "$STORE" --purge-every-s "$PURGE_S" \
    --token-rate-per-ip 0 --token-rate-per-client 0 --login-rate-per-ip 0 >> "$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf -m 1 -o /dev/null "$BASE/healthz" && return 0; sleep 0.1; done
  echo "server did not come up" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

start
sleep 0.5
admin_secret=$(awk '/admin client_secret:/{print $3}' "$OUT/server.log")
admin=$(curl -sf -u "admin:$admin_secret" -d grant_type=client_credentials -d scope=admin "$BASE/system/token" | json_field access_token)
SECRET=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d "{\"client_id\":\"bench-client\",\"name\":\"Bench\",\"redirect_uris\":[\"http://127.0.0.1:9/cb\"],
       \"grant_types\":[\"authorization_code\",\"refresh_token\"],\"require_consent\":true,
       \"access_token_ttl\":$ACCESS_TTL,\"refresh_token_ttl\":$REFRESH_TTL,
       \"id_token_signed_response_alg\":\"ES256\",\"access_token_signed_response_alg\":\"ES256\"}" \
  "$BASE/admin/v1/tenants/demo/clients" | json_field client_secret)
curl -sf -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"bench-password-1","email":"alice@example.com","name":"Alice Example"}' \
  "$BASE/admin/v1/tenants/demo/users"

ROUNDS=$(( (FLOWS + CHUNK - 1) / CHUNK ))
: > "$OUT/rounds.jsonl"
T0=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
  n=$(( r < ROUNDS ? CHUNK : FLOWS - (ROUNDS - 1) * CHUNK ))
  taskset -c 1 "${DRIVER[@]}" --issuer "$BASE/demo" --client-id bench-client \
    --client-secret="$SECRET" --username alice --password=bench-password-1 --mode sso \
    --concurrency "$CONC" --flows "$n" --warmup 0 --server-pid "$PID" --label "round$r" > "$OUT/flows.$r.json"
  rss_kb=$(awk '$1=="VmHWM:"{print $2}' "/proc/$PID/status")
  stop
  "$BIN" store-stats --data-dir "$DATA" > "$OUT/stats.$r.txt"
  python3 - "$r" "$(date +%s)" "$T0" "$(du -sb "$DATA" | cut -f1)" "$rss_kb" "$OUT/flows.$r.json" "$OUT/stats.$r.txt" \
    "$( [ -d "$DATA/audit" ] && du -sb "$DATA/audit" | cut -f1 || echo 0)" "$OUT/server.log" >> "$OUT/rounds.jsonl" <<'PY'
import json, re, sys
r, now, t0, du, rss, flows, stats, audit_du, log = sys.argv[1:]
# Online compactions so far (the server's log lines; ANSI colour codes stripped).
online = [l for l in (re.sub(r"\x1b\[[0-9;]*m", "", l) for l in open(log, errors="replace"))
          if "compacted the records database online" in l]
field = lambda l, k: int(re.search(k + r"=(\d+)", l)[1])
f = json.load(open(flows))
tables, used = {}, None
for line in open(stats):
    p = line.split()
    if len(p) == 4 and p[1].isdigit() and p[0] != 'total':
        tables[p[0]] = {"records": int(p[1]), "bytes": int(p[2]) + int(p[3])}
    if line.startswith("in use:"):
        used = int(p[2])
print(json.dumps({"round": int(r), "elapsed_s": int(now) - int(t0), "flows": f["flows"], "errors": f["errors"],
                  "flows_per_s": f["rps"], "data_dir_bytes": int(du), "in_use_bytes": used, "audit_db_bytes": int(audit_du), "peak_rss_mb": round(int(rss) / 1024, 1),
                  "tables": tables, "online_compactions": len(online),
                  "longest_switch_ms": max((field(l, "switch_ms") for l in online), default=None),
                  "longest_compaction_ms": max((field(l, "took_ms") for l in online), default=None)}))
PY
  tail -1 "$OUT/rounds.jsonl" | cut -c1-160
  start
done
stop
: > "$OUT/compact.json"
if [ "$COMPACT" = 1 ]; then
  t0=$(date +%s.%N)
  "$BIN" compact --data-dir "$DATA" | tee "$OUT/compact.txt"
  t1=$(date +%s.%N)
  "$BIN" store-stats --data-dir "$DATA" > "$OUT/stats.compacted.txt"
  start
  taskset -c 1 "${DRIVER[@]}" --issuer "$BASE/demo" --client-id bench-client \
    --client-secret="$SECRET" --username alice --password=bench-password-1 --mode sso \
    --concurrency "$CONC" --flows "$CHUNK" --warmup 0 --server-pid "$PID" --label after-compact > "$OUT/flows.compacted.json"
  rss_kb=$(awk '$1=="VmHWM:"{print $2}' "/proc/$PID/status")
  stop
  python3 - "$OUT/compact.txt" "$t0" "$t1" "$rss_kb" "$OUT/flows.compacted.json" > "$OUT/compact.json" <<'PY'
import json, re, sys
txt, t0, t1, rss, flows = sys.argv[1:]
m = re.search(r"(\d+) entries, (\d+) -> (\d+) bytes", open(txt).read())
f = json.load(open(flows))
print(json.dumps({"entries": int(m[1]), "before_bytes": int(m[2]), "after_bytes": int(m[3]),
                  "seconds": round(float(t1) - float(t0), 1), "flows_after": f["flows"], "errors_after": f["errors"],
                  "flows_per_s_after": f["rps"], "peak_rss_mb_after": round(int(rss) / 1024, 1)}))
PY
fi

python3 - "$OUT/rounds.jsonl" "$REPORT" "$FLOWS" "$CHUNK" "$CONC" "$ACCESS_TTL" "$REFRESH_TTL" "$PURGE_S" \
  "$COMMIT" "$OUT/compact.json" "$STORE" <<'PY'
import json, sys, datetime
src, report, flows, chunk, conc, at, rt, purge, commit, compact_src, store = sys.argv[1:]
rounds = [json.loads(l) for l in open(src)]
compact = next((json.loads(l) for l in open(compact_src) if l.strip()), None)
json.dump({"flows": int(flows), "chunk": int(chunk), "concurrency": int(conc), "access_ttl_s": int(at),
           "refresh_ttl_s": int(rt), "purge_every_s": int(purge), "commit": commit, "rounds": rounds,
           "compact": compact, "store": store},
          open(report + ".json", "w"), indent=1)
mb = lambda b: f"{b / 1e6:,.1f}"
total = 0
lines = [
    "# Store growth over many flows",
    "",
    f"Generated by `{'' if store == 'sled' else 'STORE=' + store + ' '}bench/store_growth.sh` on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC at commit `{commit}`, on a {store} data dir. "
    f"{int(flows):,} browser flows (live SSO session + remembered consent: authorize → code → token → userinfo; "
    f"each flow starts a refresh-token family), {conc} at a time, in rounds of {int(chunk):,}. The bench client's "
    f"access tokens live {at} s and its refresh tokens {rt} s; the purge runs every {purge} s. After each round "
    "the server is stopped, `adapter-http store-stats` counts every table, and the server starts again on the "
    "same data dir.",
    "",
    f"Reproduce: `{'' if store == 'sled' else 'STORE=' + store + ' '}bench/store_growth.sh` (or with `FLOWS=200000 CHUNK=50000`).",
    "",
    "| after flows | data dir MB | in use MB | of which audit db MB | records (all) | bytes (all) MB | audit records | audit MB | everything else: records | MB | codes | refresh tokens | grants | access tokens | flows/s | errors | peak RSS MB | online compactions so far (longest switch / whole, ms) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]
for r in rounds:
    total += r["flows"]
    t = r["tables"]
    g = lambda name, k: t.get(name, {}).get(k, 0)
    recs = sum(v["records"] for v in t.values()); byts = sum(v["bytes"] for v in t.values())
    lines.append("| " + " | ".join([
        f"{total:,}", mb(r["data_dir_bytes"]), mb(r["in_use_bytes"]) if r.get("in_use_bytes") else "–", mb(r["audit_db_bytes"]) if r.get("audit_db_bytes") else "–", f"{recs:,}", mb(byts), f"{g('audit', 'records'):,}", mb(g("audit", "bytes")),
        f"{recs - g('audit', 'records'):,}", mb(byts - g("audit", "bytes")), f"{g('code', 'records'):,}",
        f"{g('refresh_token', 'records'):,}", f"{g('grant', 'records'):,}", f"{g('access_token', 'records'):,}",
        f"{r['flows_per_s']:,.0f}", str(r["errors"]), f"{r['peak_rss_mb']}",
        f"{r['online_compactions']} ({r['longest_switch_ms']:,} / {r['longest_compaction_ms']:,})" if r.get("online_compactions") else "0"]) + " |")
if compact:
    how = ("rewrote the stopped server's data dir with only its live records" if store == "sled"
           else "gave back the free pages of the stopped server's file")
    lines += ["", f"Then `adapter-http compact` {how} "
              f"({compact['entries']:,} entries) in {compact['seconds']} s: {store}'s files went from "
              f"{mb(compact['before_bytes'])} MB to {mb(compact['after_bytes'])} MB. Started again on the compacted "
              f"dir, {compact['flows_after']:,} more flows ran at {compact['flows_per_s_after']:,.0f} flows/s "
              f"({compact['errors_after']} errors) with a peak RSS of {compact['peak_rss_mb_after']} MB."]
lines += ["", "In use: the pages redb's file holds records in (`adapter-http store-stats`); the rest are free "
          "pages that later commits reuse. sled keeps no such count (–).",
          "", "Online compactions (sled only): after a purge, once the records database's files have doubled since "
          "the last compaction, the server copies the live records into a new generation and switches to it while "
          "it serves (`stores/sled/src/online_compact.rs`). The switch is how long transactions waited; "
          "the whole compaction ran beside them. The count and the longest times are read from the server's log "
          "since the run began."]
open(report + ".md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
