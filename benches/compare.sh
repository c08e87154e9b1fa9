#!/usr/bin/env bash
# costlake against the alternatives on this machine, in one run (by hand, not in CI): builds
# the release binary and the ingest example, installs the pinned peers (tests/setup.sh: DuckDB,
# pandas, pyarrow), then runs benches/compare.py, which writes benches/RESULTS.md.
# Sizes: ROWS, LAKE_PERIODS, LAKE_ROWS, RSS_SIZES, REPEATS (see benches/compare.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin costlake --example ingest_json
tests/setup.sh
exec .test-tools/venv/bin/python benches/compare.py
