#!/usr/bin/env bash
# Builds every release package of litestash-engine into OUT_DIR, offline on Debian 12:
#   litestash-engine_<version>-1_<arch>.deb              (cpack DEB: binaries, man pages, docs;
#                                                         Depends from dpkg-shlibdeps)
#   litestash-engine-<version>-Linux-<cpu>.tar.gz        (cpack TGZ: the same plus the host
#                                                         library sources, share/litestash-engine/hosts)
#   litestash_engine-<version>-py3-none-<platform>.whl   (the binaries as a pip wheel,
#                                                         packaging/wheel/)
#   litestash-<version>-py3-none-any.whl                 (the Python host, hosts/python)
# BUILD_DIR is configured as a release build (-DLITESTASH_TESTS=OFF -DLITESTASH_BENCH=OFF, extra
# arguments go to cmake) and built with LITESTASH_JOBS jobs (default 2). Every build step runs
# under flock /tmp/litestash-build.lock, so concurrent builds in other trees take turns.
# litestash-cli goes into every package when the build has that target (cli/).
# Usage: packaging/make_packages.sh BUILD_DIR OUT_DIR [cmake args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR OUT_DIR [cmake args...]" >&2; exit 2; }
build="$1"
out="$2"
shift 2
py=/usr/bin/python3
lock=/tmp/litestash-build.lock
jobs="${LITESTASH_JOBS:-2}"

"$root/packaging/ensure-deps.sh" build package

mkdir -p "$build" "$out"
build="$(cd "$build" && pwd)"
out="$(cd "$out" && pwd)"

echo "make_packages: configure and build $build" >&2
flock "$lock" cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLITESTASH_TESTS=OFF -DLITESTASH_BENCH=OFF "$@" >/dev/null
flock "$lock" cmake --build "$build" -j "$jobs"

# Old packages of this project in OUT_DIR would make "the" package ambiguous.
rm -f "$out"/litestash-engine_*.deb "$out"/litestash-engine-*.tar.gz \
  "$out"/litestash_engine-*.whl "$out"/litestash-*.whl

echo "make_packages: cpack DEB and TGZ" >&2
# cpack builds its `preinstall` target first, a no-op after the build above; locked all the same.
rm -rf "$build/packages"
(cd "$build" && flock "$lock" cpack -G "DEB;TGZ" -B "$build/packages" >&2)
cp "$build/packages/"litestash-engine_*.deb "$build/packages/"litestash-engine-*.tar.gz "$out/"

echo "make_packages: wheel litestash-engine" >&2
"$root/packaging/wheel/build_wheel.sh" "$build" "$out" >/dev/null

echo "make_packages: wheel litestash (hosts/python)" >&2
# Built from a copy: setuptools writes build/ and *.egg-info/ next to the sources.
stage="$(mktemp -d "${TMPDIR:-/tmp}/litestash-host-wheel.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/src"
cp "$root/hosts/python/pyproject.toml" "$root/hosts/python/README.md" "$stage/src/"
cp -r "$root/hosts/python/litestash" "$stage/src/"
rm -rf "$stage/src/litestash/__pycache__"
"$py" -m pip wheel --quiet --no-index --no-build-isolation --no-deps \
  --disable-pip-version-check --wheel-dir "$out" "$stage/src" >&2

echo "make_packages: in $out" >&2
(cd "$out" && stat -c '  %10s  %n' litestash-engine_*.deb litestash-engine-*.tar.gz \
  litestash_engine-*.whl litestash-*.whl) >&2
