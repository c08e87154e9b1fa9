#!/usr/bin/env bash
# README's "Put costlake on the PATH", checked: `cargo install --locked --path .` into a folder
# of its own, then the installed binary, found on the PATH, runs `costlake demo` in an empty
# folder and writes its lake and month-end report. tests/run calls this after the tests, when
# the debug build is there to reuse: `--debug --target-dir target` installs that build (about a
# second) instead of compiling the release profile again (about 21 minutes on two cores); the
# release install is what README's quick start measures.
set -euo pipefail
cd "$(dirname "$0")/.."

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
cargo install --locked --debug --quiet --path . --root "$root" --target-dir target
mkdir "$root/work"
cd "$root/work"
export PATH="$root/bin:$PATH"
[[ "$(command -v costlake)" == "$root/bin/costlake" ]] || { echo "tests/install.sh: the installed costlake is not the one on the PATH" >&2; exit 1; }
costlake --version
if ! costlake demo --rows-per-period 300 > demo.out 2>&1; then
  cat demo.out >&2
  echo "tests/install.sh: the installed costlake's demo failed" >&2
  exit 1
fi
fail() { cat demo.out >&2; echo "tests/install.sh: $1" >&2; exit 1; }
[[ -f costlake-demo/_costlake/manifest.json ]] || fail "the demo wrote no lake"
ls costlake-report-*.html > /dev/null 2>&1 || fail "the demo wrote no report"
grep -q "costlake is not on your PATH" demo.out && fail "the demo did not find costlake on the PATH"
echo "tests/install.sh: cargo install --path . put costlake on the PATH, and its demo ran"
