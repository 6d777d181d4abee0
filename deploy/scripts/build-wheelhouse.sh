#!/usr/bin/env bash
# Fills a wheelhouse with every wheel the image needs (the runtime dependencies pinned in
# pyproject.toml, resolved transitively, plus the build backend), so that
# `docker build --network none` can install with `pip install --no-index --find-links`.
#
# Wheels are built/downloaded by the host's Python, which must match the image's Python
# (3.11, x86_64/aarch64 glibc: Debian bookworm base, or python:3.11-slim-bookworm).
# Cached: nothing is done when the runtime requirements and this script are unchanged.
#
# Usage: deploy/scripts/build-wheelhouse.sh [DIR]   (default build/wheelhouse)
# Env:   PYTHON (default: .venv/bin/python if present, else python3)
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$ROOT_DIR/build/wheelhouse}"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x "$ROOT_DIR/.venv/bin/python" ]]; then PYTHON="$ROOT_DIR/.venv/bin/python"; else PYTHON=python3; fi
fi

ver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$ver" != 3.11 ]]; then
    echo "the wheelhouse must be built with Python 3.11 (the image's); $PYTHON is $ver" >&2
    exit 1
fi

reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
"$PYTHON" - "$ROOT_DIR/pyproject.toml" > "$reqs" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)
for dep in project["project"]["dependencies"]:
    print(dep)
for dep in project["build-system"]["requires"]:
    print(dep)
PY
# Only the runtime and build requirements matter (dev dependencies may change freely).
stamp_inputs="$( { cat "$reqs" "$0"; uname -m; } | sha256sum | cut -c1-16)"
if [[ -f "$OUT/.inputs" && "$(cat "$OUT/.inputs")" == "$stamp_inputs" ]]; then
    echo "wheelhouse $OUT is up to date ($stamp_inputs)"
    exit 0
fi
rm -rf "$OUT" && mkdir -p "$OUT"   # no stale wheels from older pins
# `pip wheel` downloads binary wheels and builds the few pure-Python sdists (no compiler
# is needed for those) into wheels, so the image never builds anything from source.
"$PYTHON" -m pip wheel --quiet --wheel-dir "$OUT" --requirement "$reqs"
# Build isolation installs the backend's own build requirements too.
"$PYTHON" -m pip wheel --quiet --wheel-dir "$OUT" setuptools wheel
# Requirements behind environment markers that hold for the image's Python but maybe not
# for this one: the image may run an older 3.11 patch release (Debian's 3.11.2), for which
# redis needs async-timeout (`python_full_version < "3.11.3"`).
"$PYTHON" -m pip wheel --quiet --wheel-dir "$OUT" "async-timeout>=4.0.3"
echo "$stamp_inputs" > "$OUT/.inputs"
echo "wheelhouse $OUT: $(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1)"
