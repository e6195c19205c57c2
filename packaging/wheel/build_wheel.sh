#!/usr/bin/env bash
# Builds the litestash-engine wheel from an already built CMake build dir: stages this folder
# and the stripped binaries of the `runtime` install component (litestash-engine, and
# litestash-cli when that target exists) in a temp dir, then runs pip wheel there offline with
# Debian's setuptools and wheel (python3-setuptools, python3-wheel, python3-pip).
# Writes OUT_DIR/litestash_engine-<version>-py3-none-<platform>.whl and prints its path.
# Usage: packaging/wheel/build_wheel.sh BUILD_DIR OUT_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 2; }
build="$(cd "$1" && pwd)"
mkdir -p "$2"
out="$(cd "$2" && pwd)"
py=/usr/bin/python3

version="$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")"
[ -n "$version" ] || { echo "build_wheel: no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt" >&2; exit 1; }

stage="$(mktemp -d "${TMPDIR:-/tmp}/litestash-wheel.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$stage/"
cmake --install "$build" --component runtime --prefix "$stage/install" --strip >/dev/null
mkdir "$stage/scripts"
cp -p "$stage/install/bin/"* "$stage/scripts/"
rm -rf "$stage/install"

LITESTASH_ENGINE_VERSION="$version" "$py" -m pip wheel --quiet --no-index --no-build-isolation \
  --no-deps --disable-pip-version-check --wheel-dir "$stage/dist" "$stage" >&2
whl="$(ls "$stage/dist/"litestash_engine-*.whl)"
mv "$whl" "$out/"
echo "$out/$(basename "$whl")"
