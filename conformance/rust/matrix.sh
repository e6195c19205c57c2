#!/bin/sh
# Cross-language matrix role of the Rust host.
#   conformance/rust/matrix.sh write DATA_DIR    store every dataset.json entry
#   conformance/rust/matrix.sh verify DATA_DIR   check bytes + decoded values; prints
#                                                "verify OK N keys", non-zero on mismatch
# Builds src/bin/matrix.rs offline (Debian crates, see .cargo/config.toml) on first use.
# Engine: env LITESTASH_ENGINE, default <repo>/build/litestash-engine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 write|verify DATA_DIR" >&2; exit 64; }
mode=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
cd "$here"
nice -n 10 cargo build --offline --locked --quiet -j 2 --bin matrix >&2
exec "$here/target/debug/matrix" "$mode" "$dir"
