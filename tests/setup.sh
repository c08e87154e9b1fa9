#!/usr/bin/env bash
# Installs, with pinned versions, the tools the end-to-end tests run beside costlake into
# .test-tools/ (git-ignored): a Python venv with the readers the interop tests compare against
# (DuckDB, pyarrow, pandas, pyspark), the OpenAPI validator and the S3 server (moto), and
# Azurite for az:// lakes. Idempotent: a stamp of the pins skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_PINS=(
  "openapi-spec-validator==0.9.0"
  "duckdb==2.0.1"
  "pyarrow==26.0.1"
  "pandas==3.1.1"
  "pyspark==3.5.7"
  "moto[server]==5.2.5"
  "azure-storage-blob==12.31.1"
)
NPM_PINS=("azurite@3.37.0")

tools=.test-tools
stamp="$tools/stamp"
want="$(printf '%s\n' "${PYTHON_PINS[@]}" "${NPM_PINS[@]}")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
mkdir -p "$tools"
if [[ ! -x "$tools/venv/bin/python" ]]; then
  python3 -m venv "$tools/venv"
fi
"$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PINS[@]}"
npm install --silent --no-audit --no-fund --prefix "$tools/node" "${NPM_PINS[@]}"
command -v java >/dev/null || { echo "tests/setup.sh: pyspark needs Java 17 (apt install openjdk-17-jre-headless)" >&2; exit 1; }
printf '%s' "$want" > "$stamp"
