#!/usr/bin/env bash
# Installs, with pinned versions, the tools the end-to-end tests run beside costlake into
# .test-tools/ (git-ignored): a Python venv with the readers the interop tests compare against
# (DuckDB, pyarrow, pandas, pyspark), the OpenAPI validator and the S3 server (moto), Azurite
# for az:// lakes, and in a venv of its own (it needs Python 3.12) the FinOps Foundation's FOCUS
# validator, pinned in tests/focus-validator.txt; and from Debian's packages, Chromium with
# ChromeDriver and poppler's pdfinfo, which the report test opens and prints the report with.
# Idempotent: a stamp of the pins skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's own packages: the distribution's current Chromium (its security updates replace
# older versions, so it is not pinned; the report test needs only headless rendering, a
# console, WebDriver and printing).
debian=()
[[ -x /usr/bin/chromium ]] || debian+=(chromium)
[[ -x /usr/bin/chromedriver ]] || debian+=(chromium-driver)
[[ -x /usr/bin/pdfinfo ]] || debian+=(poppler-utils)
if ((${#debian[@]})); then
  sudo=""
  [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${debian[@]}"
fi

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
want="$(printf '%s\n' "${PYTHON_PINS[@]}" "${NPM_PINS[@]}"; cat tests/focus-validator.txt)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
mkdir -p "$tools"
if [[ ! -x "$tools/venv/bin/python" ]]; then
  python3 -m venv "$tools/venv"
fi
"$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PINS[@]}"
# The validator reads its currency list from `focus_validator/rules/` relative to the working
# directory, so the tests run it from a folder that links to the installed package.
python312=""
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 python3.12; do
  if "$candidate" --version >/dev/null 2>&1; then python312="$candidate"; break; fi
done
[[ -n "$python312" ]] || { echo "tests/setup.sh: the FOCUS validator needs Python 3.12 (python3.12 on PATH, or pyenv's 3.12)" >&2; exit 1; }
if [[ ! -x "$tools/focus-venv/bin/python" ]]; then
  "$python312" -m venv "$tools/focus-venv"
fi
"$tools/focus-venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/focus-validator.txt
mkdir -p "$tools/focus-run"
ln -sfn "$("$tools/focus-venv/bin/python" -c 'import focus_validator, os; print(os.path.dirname(focus_validator.__file__))')" "$tools/focus-run/focus_validator"
npm install --silent --no-audit --no-fund --prefix "$tools/node" "${NPM_PINS[@]}"
command -v java >/dev/null || { echo "tests/setup.sh: pyspark needs Java 17 (apt install openjdk-17-jre-headless)" >&2; exit 1; }
command -v man >/dev/null || { echo "tests/setup.sh: the man page test needs man (apt install man-db)" >&2; exit 1; }
printf '%s' "$want" > "$stamp"
