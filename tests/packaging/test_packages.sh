#!/usr/bin/env bash
# Packaging test: builds every package with packaging/make_packages.sh (release build in
# BUILD_DIR, default <repo>/build-pkg), then checks each one the way a user would use it, in
# throwaway dirs outside the repository:
#   .deb      dpkg-deb -I shows the package and its Depends (shared libraries found by
#             dpkg-shlibdeps); dpkg -x into a scratch root, and from there every program answers
#             --version / --help, has a man page, and the engine answers hello and ping frames.
#   wheels    a fresh venv (/usr/bin/python3 -m venv --system-site-packages, for Debian's
#             msgpack) gets both wheels with pip --no-index --no-build-isolation; with no
#             LITESTASH_ENGINE and the venv not on PATH, its python opens
#             litestash.LiteStash(data_dir=tmp), sets and gets a key, and the engine used is the
#             one the wheel put into the venv's bin/.
#   tarball   its files (binaries, man pages, docs, host sources without build artefacts), and
#             its engine runs.
# litestash-cli is expected in every package when the tree has cli/CMakeLists.txt.
# Usage: tests/packaging/test_packages.sh [BUILD_DIR]
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-pkg}"
py=/usr/bin/python3

work="$(mktemp -d "${TMPDIR:-/tmp}/litestash-packages-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="$work/out"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok: $*"; }
fail() { failed=$((failed + 1)); echo "  FAILED: $*"; }
check() {  # check DESCRIPTION COMMAND...: the command must succeed
  local what="$1"
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

echo "--- make_packages.sh $build $out"
if ! "$root/packaging/make_packages.sh" "$build" "$out"; then
  echo "packages test: FAILED: make_packages.sh"
  exit 1
fi

version="$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")"
arch="$(dpkg --print-architecture)"
platform="$("$py" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
programs=(litestash-engine)
[ -f "$root/cli/CMakeLists.txt" ] && programs+=(litestash-cli)
echo "version $version, arch $arch, platform $platform, programs ${programs[*]}"

deb="$out/litestash-engine_${version}-1_${arch}.deb"
top="litestash-engine-$version-Linux-$(uname -m)"
tgz="$out/$top.tar.gz"
engine_whl="$out/litestash_engine-${version}-py3-none-${platform}.whl"
host_whl="$out/litestash-${version}-py3-none-any.whl"
for f in "$deb" "$tgz" "$engine_whl" "$host_whl"; do
  check "package $(basename "$f") ($(stat -c %s "$f" 2>/dev/null || echo missing) bytes)" \
    test -s "$f"
done

# A hello then a ping on stdin, each a 4-byte big-endian length + a MessagePack map; the engine
# must answer both (ok, its version) and exit 0 at EOF. Runs the engine at $1 on data dir $2.
cat >"$work/ping.py" <<'EOF'
import struct
import subprocess
import sys

import msgpack

engine, data_dir, version = sys.argv[1:4]


def frame(msg):
    body = msgpack.packb(msg)
    return struct.pack(">I", len(body)) + body


p = subprocess.run([engine, "--data-dir", data_dir, "--log-level", "warn"],
                   input=frame({"id": 1, "op": "hello"}) + frame({"id": 2, "op": "ping"}),
                   capture_output=True, timeout=60)
answers = {}
buf = p.stdout
while buf:
    (n,) = struct.unpack(">I", buf[:4])
    msg = msgpack.unpackb(buf[4:4 + n])
    answers[msg["id"]] = msg
    buf = buf[4 + n:]
assert p.returncode == 0, (p.returncode, p.stderr)
assert answers[1]["ok"] is True and answers[1]["engine"] == "litestash-engine", answers[1]
assert answers[1]["version"] == version, answers[1]
assert answers[2] == {"id": 2, "ok": True}, answers[2]
print("    hello: protocol %s, %s shards; ping: %s" % (answers[1]["protocol"], answers[1]["shards"],
                                                       answers[2]))
EOF

version_is() {  # version_is PROGRAM VERSION: --version succeeds and its output names VERSION
  local said
  said="$("$1" --version)" || return 1
  echo "    $said"
  grep -qF "$2" <<<"$said"
}

# run_programs DIR LABEL: every program in DIR answers --version and --help; the engine pings.
run_programs() {
  local bin="$1" label="$2" p
  for p in "${programs[@]}"; do
    check "$label: $p is executable" test -x "$bin/$p"
    check "$label: $p links only libraries that exist" \
      bash -c "! ldd '$bin/$p' | grep -q 'not found'"
    check "$label: $p --version says $version" version_is "$bin/$p" "$version"
    check "$label: $p --help" bash -c "'$bin/$p' --help >/dev/null"
  done
  check "$label: engine --help lists --data-dir" bash -c "'$bin/litestash-engine' --help | grep -q -- --data-dir"
  mkdir -p "$work/data-$label"
  check "$label: engine answers hello and ping" \
    "$py" "$work/ping.py" "$bin/litestash-engine" "$work/data-$label" "$version"
}

# ---------------------------------------------------------------------------------------------
echo "--- .deb: $(basename "$deb")"
dpkg-deb -I "$deb" | sed 's/^/    /'
depends="$(dpkg-deb -f "$deb" Depends)"
echo "    Depends: $depends"
check "deb: Package is litestash-engine" test "$(dpkg-deb -f "$deb" Package)" = litestash-engine
check "deb: Version is $version-1" test "$(dpkg-deb -f "$deb" Version)" = "$version-1"
for lib in libc6 libstdc++6 libsqlite3-0 libssl3 libspdlog libfmt; do
  check "deb: Depends names $lib" bash -c "grep -q '\\b$lib' <<<'$depends'"
done
# Each Depends clause is met by an installed package (what `apt install ./<deb>` would check).
depends_met() {
  local clause alt name op ver have provides
  provides="$(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n')"
  local IFS=','
  for clause in $1; do
    local met=1
    IFS='|'
    for alt in $clause; do
      IFS=" " read -r name op ver <<<"$(sed -E 's/[()]//g' <<<"$alt")"
      if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed"; then
        have="$(dpkg-query -W -f='${Version}' "$name")"
        if [ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$ver"; then met=0; fi
      elif [ -z "$op" ] && grep -qE "^ii .*[|,] ?${name//./\\.}( |,|$)" <<<"$provides"; then
        met=0  # a virtual package (libspdlog1.10-fmt9 is provided by libspdlog1.10)
      fi
    done
    IFS=','
    [ $met -eq 0 ] || { echo "    unmet: $clause"; return 1; }
  done
}
check "deb: Depends met by this system's packages" depends_met "$depends"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/deb.list"
for p in "${programs[@]}"; do
  check "deb: has /usr/bin/$p" grep -qx "./usr/bin/$p" "$work/deb.list"
  check "deb: has the man page of $p" grep -qx "./usr/share/man/man1/$p.1.gz" "$work/deb.list"
done
for d in README.md protocol.md architecture.md reliability.md hosts.md; do
  check "deb: has /usr/share/doc/litestash-engine/$d" \
    grep -qx "./usr/share/doc/litestash-engine/$d" "$work/deb.list"
done
check "deb: no host sources (tarball only)" bash -c "! grep -q '/hosts/' '$work/deb.list'"
dpkg -x "$deb" "$work/debroot"
run_programs "$work/debroot/usr/bin" deb
for p in "${programs[@]}"; do
  check "deb: man page of $p is a man page of $p" \
    bash -c "zcat '$work/debroot/usr/share/man/man1/$p.1.gz' | grep -q '^\\.TH \"*${p^^}'"
done

# ---------------------------------------------------------------------------------------------
echo "--- wheels: $(basename "$engine_whl"), $(basename "$host_whl")"
"$py" - "$engine_whl" "${programs[@]}" >"$work/wheel.check" 2>&1 <<'EOF'
import sys
import zipfile

whl, programs = sys.argv[1], sys.argv[2:]
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    wheel_meta = [n for n in names if n.endswith(".dist-info/WHEEL")][0]
    meta = z.read(wheel_meta).decode()
    print(meta.strip())
    assert "Root-Is-Purelib: false" in meta, meta
    for p in programs:
        info = z.getinfo([n for n in names if n.endswith(".data/scripts/" + p)][0])
        assert (info.external_attr >> 16) & 0o111, "%s is not executable in the wheel" % p
EOF
rc=$?
sed 's/^/    /' "$work/wheel.check"
check "engine wheel: not pure, binaries executable in .data/scripts" test $rc -eq 0
venv="$work/venv"
check "venv: created" "$py" -m venv --system-site-packages "$venv"
check "venv: pip install both wheels" "$venv/bin/pip" install --quiet --no-index \
  --no-build-isolation --disable-pip-version-check "$engine_whl" "$host_whl"
run_programs "$venv/bin" wheel
mkdir -p "$work/app/data"
cat >"$work/app/check.py" <<'EOF'
import os
import sys

import litestash
from litestash import LiteStash
from litestash.protocol import find_engine

venv, data_dir = sys.argv[1:3]
venv = os.path.realpath(venv)
assert "LITESTASH_ENGINE" not in os.environ
assert os.path.join(venv, "bin") not in os.environ["PATH"].split(os.pathsep)
where = os.path.realpath(litestash.__file__)
assert where.startswith(venv + os.sep), "litestash imported from %s" % where
engine = os.path.realpath(find_engine())
assert engine == os.path.join(venv, "bin", "litestash-engine"), engine
with LiteStash(data_dir=data_dir) as db:
    db.set("greeting", {"hello": "world", "n": 1})
    assert db.get("greeting") == {"hello": "world", "n": 1}
    assert db.get("missing") is None
print("    litestash from %s, engine %s: set/get ok" % (where, engine))
EOF
check "venv: python (not activated, no LITESTASH_ENGINE) sets and gets a key" \
  bash -c "cd '$work/app' && env -u LITESTASH_ENGINE PATH=/usr/bin:/bin '$venv/bin/python' check.py '$venv' '$work/app/data'"

# ---------------------------------------------------------------------------------------------
echo "--- tarball: $(basename "$tgz")"
tar tzf "$tgz" >"$work/tgz.list" 2>/dev/null
echo "    $(wc -l <"$work/tgz.list") entries"
has() { grep -qx "$top/$1" "$work/tgz.list"; }
for p in "${programs[@]}"; do
  check "tarball: bin/$p" has "bin/$p"
  check "tarball: man page of $p" has "share/man/man1/$p.1.gz"
done
for f in share/doc/litestash-engine/README.md share/doc/litestash-engine/protocol.md \
  share/litestash-engine/hosts/README.md \
  share/litestash-engine/hosts/python/pyproject.toml \
  share/litestash-engine/hosts/python/litestash/client.py \
  share/litestash-engine/hosts/elixir/mix.exs \
  share/litestash-engine/hosts/elixir/lib/lite_stash.ex \
  share/litestash-engine/hosts/rust/Cargo.toml \
  share/litestash-engine/hosts/rust/src/lib.rs; do
  check "tarball: $f" has "$f"
done
check "tarball: every entry under $top/" bash -c "! grep -qv '^$top/' '$work/tgz.list'"
check "tarball: no build artefacts (_build, deps, target, __pycache__, egg-info, build, dist)" \
  bash -c "! grep -E '/(_build|deps|target|__pycache__|[^/]*\\.egg-info|python/build|python/dist)/' '$work/tgz.list'"
mkdir -p "$work/tgz"
tar xzf "$tgz" -C "$work/tgz"
run_programs "$work/tgz/$top/bin" tarball

echo
if [ "$failed" -gt 0 ]; then
  echo "packages test: $passed checks passed, $failed FAILED"
  exit 1
fi
echo "packages test: $passed checks passed"
