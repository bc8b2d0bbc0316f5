#!/usr/bin/env bash
# Reliability and security runs at full length (issue 9); writes conformance-reports/reliability.md.
# CI runs the same tests in short form through `cargo test` (see README "Reliability").
#
#   bash reliability/run.sh                    # release build, full length (about 20 minutes)
#   CRASH_KILLS=20 SOAK_SECONDS=60 bash reliability/run.sh   # a quicker pass
#
# Knobs (environment): CRASH_KILLS (200), SOAK_SECONDS (600), SOAK_RATE mixed units/s (50),
# RACE_ROUNDS (50), SCHEMATHESIS_EXAMPLES per operation (100), SCHEMATHESIS_SEED (random),
# RELIABILITY_SEED (random; the crash test prints the one it used), PROFILE (release|dev).
set -uo pipefail
cd "$(dirname "$0")/.."

sections=target/reliability-sections
rm -rf "$sections" && mkdir -p "$sections"
export RELIABILITY_REPORT_DIR="$PWD/$sections"
export CRASH_KILLS=${CRASH_KILLS:-200}
export SOAK_SECONDS=${SOAK_SECONDS:-600}
export SOAK_RATE=${SOAK_RATE:-50}
export RACE_ROUNDS=${RACE_ROUNDS:-50}
export SCHEMATHESIS_EXAMPLES=${SCHEMATHESIS_EXAMPLES:-100}
export SCHEMATHESIS_SEED=${SCHEMATHESIS_SEED:-$RANDOM$RANDOM}
profile=${PROFILE:-release}
flag=$([ "$profile" = release ] && echo --release)

started=$(date -u +%FT%TZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo "+uncommitted")
cargo test $flag -j2 --locked -p adapter-http --test reliability --test attacks --test schemathesis \
  2>&1 | tee "$sections/cargo.log"
status=${PIPESTATUS[0]}

python3 reliability/report.py "$sections" "$started" "$profile" "$commit" > conformance-reports/reliability.md
echo "wrote conformance-reports/reliability.md (cargo test exit $status)"
exit "$status"
