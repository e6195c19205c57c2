#!/usr/bin/env bash
# Install test of the three host libraries: each is installed / depended on the way its
# ecosystem expects, offline, in throwaway temp dirs outside the repository, and a short program
# there starts the engine on a temp data dir, sets and gets a key and closes it.
#   1. Python: a fresh venv (python3 -m venv --system-site-packages), then
#      pip install --no-index --no-build-isolation ./hosts/python; the program runs with the
#      temp dir as its cwd and must import litestash from the venv.
#   2. Elixir: a new Mix project depending on {:litestash, path: "<repo>/hosts/elixir"},
#      compiled offline (no hex), run with `mix run`.
#   3. Rust: a new Cargo crate depending on litestash = { path = "<repo>/hosts/rust" }, its
#      .cargo/config.toml pointing at Debian's crates (/usr/share/cargo/registry), built offline.
#
#   hosts/install_test.sh [python] [elixir] [rust]     (default: all three)
#
# Engine: env LITESTASH_ENGINE (default <repo>/build/litestash-engine when that exists). Builds
# run under `nice -n 19` with one job. Works from a clean clone: nothing is reused from the
# repository's own _build/ or target/ dirs. Exit status non-zero if any part fails.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py=/usr/bin/python3

if [ -z "${LITESTASH_ENGINE:-}" ] && [ -x "$root/build/litestash-engine" ]; then
  export LITESTASH_ENGINE="$root/build/litestash-engine"
fi
if [ -z "${LITESTASH_ENGINE:-}" ] || [ ! -x "$LITESTASH_ENGINE" ]; then
  echo "install test: no engine (set LITESTASH_ENGINE to the litestash-engine binary)" >&2
  exit 2
fi

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(python elixir rust)

work="$(mktemp -d "${TMPDIR:-/tmp}/litestash-install-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "install test: engine $LITESTASH_ENGINE, work dir $work"

step() { echo "  \$ $*"; "$@"; }

# ---------------------------------------------------------------------------------------------
python_part() {
  local dir="$work/python" venv="$work/python/venv"
  mkdir -p "$dir/data"
  # pip builds in the source tree (setuptools writes build/ and litestash.egg-info/ there);
  # remove what this run created so the tree is left as it was found.
  local created=()
  for d in build litestash.egg-info; do
    [ -e "$root/hosts/python/$d" ] || created+=("$root/hosts/python/$d")
  done
  local rc=0
  step nice -n 19 "$py" -m venv --system-site-packages "$venv" &&
    (cd "$root" && step nice -n 19 "$venv/bin/pip" install --quiet --no-index --no-build-isolation \
      --disable-pip-version-check ./hosts/python) || rc=1
  for d in "${created[@]+"${created[@]}"}"; do rm -rf "$d"; done
  [ $rc -eq 0 ] || return 1
  cat >"$dir/check.py" <<'EOF'
import os
import sys

import litestash
from litestash import LiteStash

venv = sys.argv[1]
data_dir = sys.argv[2]
where = os.path.realpath(litestash.__file__)
assert where.startswith(os.path.realpath(venv) + os.sep), "litestash imported from %s" % where
with LiteStash(data_dir=data_dir) as db:
    version = db.set("greeting", {"hello": "world", "n": 1})
    got = db.get("greeting")
    assert got == {"hello": "world", "n": 1}, got
    assert db.get("missing") is None
print("python: imported litestash from %s; set/get on %s ok (version %d)"
      % (where, data_dir, version))
EOF
  (cd "$dir" && step "$venv/bin/python" check.py "$venv" "$dir/data")
}

# ---------------------------------------------------------------------------------------------
elixir_part() {
  local dir="$work/elixir"
  mkdir -p "$dir/lib" "$dir/data"
  cat >"$dir/mix.exs" <<EOF
defmodule InstallCheck.MixProject do
  use Mix.Project

  def project do
    [
      app: :install_check,
      version: "0.1.0",
      elixir: "~> 1.14",
      deps: [{:litestash, path: "$root/hosts/elixir"}]
    ]
  end

  def application, do: [extra_applications: [:logger]]
end
EOF
  cat >"$dir/lib/install_check.ex" <<'EOF'
defmodule InstallCheck do
  def main([data_dir]) do
    {:ok, _} = Application.ensure_all_started(:litestash)
    # The library ships no test or conformance modules.
    for m <- [LiteStash.Matrix, LiteStash.Vectors, LiteStash.TestHelpers] do
      false = Code.ensure_loaded?(m)
    end

    {:ok, pid} = LiteStash.start_link(data_dir: data_dir, name: nil)
    :ok = LiteStash.set(pid, "greeting", %{"hello" => "world", "n" => 1})
    {:ok, %{"hello" => "world", "n" => 1}} = LiteStash.get(pid, "greeting")
    {:error, :not_found} = LiteStash.get(pid, "missing")
    :ok = LiteStash.stop(pid)
    vsn = Application.spec(:litestash, :vsn)
    IO.puts("elixir: app :litestash #{vsn} as a path dependency; set/get on #{data_dir} ok")
  end
end
EOF
  (
    cd "$dir" || exit 1
    export MIX_ENV=dev MIX_HOME="$dir/.mix" HEX_HOME="$dir/.hex" HEX_OFFLINE=1
    step nice -n 19 mix compile &&
      step mix run --no-compile -e 'InstallCheck.main(System.argv())' -- "$dir/data"
  )
}

# ---------------------------------------------------------------------------------------------
rust_part() {
  local dir="$work/rust"
  mkdir -p "$dir/src" "$dir/.cargo" "$dir/data"
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "install-check"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
litestash = { path = "$root/hosts/rust" }

[profile.dev]
debug = 0
EOF
  cat >"$dir/.cargo/config.toml" <<'EOF'
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "/usr/share/cargo/registry"

[net]
offline = true
EOF
  cat >"$dir/src/main.rs" <<'EOF'
use litestash::{Client, Options};

fn main() -> Result<(), litestash::Error> {
    let data_dir = std::env::args().nth(1).expect("usage: install-check DATA_DIR");
    let opts = Options::new(&data_dir);
    let mut c = Client::start(&opts)?;
    let version = c.set("greeting", &("hello", 1u32))?;
    let got: Option<(String, u32)> = c.get("greeting")?;
    assert_eq!(got, Some(("hello".to_owned(), 1)));
    assert_eq!(c.get::<u32>("missing")?, None);
    let status = c.close()?;
    assert!(status.success(), "engine exit status {status}");
    println!(
        "rust: crate litestash as a path dependency (timeout {:?}); set/get on {data_dir} ok \
         (version {version})",
        opts.timeout
    );
    Ok(())
}
EOF
  (
    cd "$dir" || exit 1
    export CARGO_TARGET_DIR="$dir/target"
    step nice -n 19 cargo build --offline --quiet -j 1 &&
      step "$CARGO_TARGET_DIR/debug/install-check" "$dir/data"
  )
}

# ---------------------------------------------------------------------------------------------
failed=()
for p in "${parts[@]}"; do
  case "$p" in
    python | elixir | rust) ;;
    *) echo "install test: unknown part '$p' (python, elixir, rust)" >&2; exit 2 ;;
  esac
  echo "--- install test: $p"
  start=$SECONDS
  if "${p}_part"; then
    echo "--- install test: $p passed in $((SECONDS - start))s"
  else
    echo "--- install test: $p FAILED in $((SECONDS - start))s"
    failed+=("$p")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "install test: FAILED: ${failed[*]}"
  exit 1
fi
echo "install test: ${parts[*]} passed"
