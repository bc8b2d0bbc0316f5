#!/usr/bin/env bash
# The nightly-style deep run of the combined model (issue 39): depth first on both cores, at
# CombinedBounds::deep() (or BOUNDS=f,a,r,m,t,x,roam), until DEEP_STATES generated states
# (default 10.5 million) or the bounds are exhausted. Writes conformance-reports/model-check-deep.md,
# which the CI report (conformance-reports/model-check.md) includes. About 15 minutes here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -j2 --release -q -p model-check
start=$(date +%s)
./target/release/model-check --deep
echo "deep run: $(( $(date +%s) - start )) s wall"
