#!/usr/bin/env bash
# One process against a Ballista cluster of one and two executors on this machine, in one run
# (by hand, not in CI): builds the release binary with the cluster feature, then runs
# benches/cluster.py, which writes the "Cluster" section of benches/RESULTS.md.
# Sizes: CLUSTER_PERIODS, CLUSTER_ROWS, CLUSTER_CONCURRENCY, CLUSTER_REPEATS; CLUSTER_LAKE
# keeps the lake between runs (see benches/cluster.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features cluster --bin costlake
exec python3 benches/cluster.py
