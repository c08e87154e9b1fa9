#!/usr/bin/env bash
# costlake against the alternatives on this machine, in one run (by hand, not in CI): builds
# the release binary and the ingest example, installs the pinned peers (tests/setup.sh: DuckDB,
# pandas, pyarrow; the DuckDB shell), then runs benches/compare.py, which writes benches/RESULTS.md.
# Sizes: ROWS, LAKE_PERIODS, LAKE_ROWS, RSS_SIZES, REPEATS (see benches/compare.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin costlake --example ingest_json
tests/setup.sh
# The DuckDB shell, for the fresh-process comparison: the newest `duckdb-cli` wheel (an older
# DuckDB than the Python package the tests pin; RESULTS.md names both).
.test-tools/venv/bin/python -m pip install --quiet --disable-pip-version-check "duckdb-cli==1.5.6"
exec .test-tools/venv/bin/python benches/compare.py
