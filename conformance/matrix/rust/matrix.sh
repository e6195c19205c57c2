#!/bin/sh
# Cross-language matrix role of the Rust host (src/main.rs, on the litestash crate in hosts/rust).
#   conformance/matrix/rust/matrix.sh write DATA_DIR    store every dataset.json entry, append
#                                                       every streams.json stream, commit offsets,
#                                                       run history.json's steps (--keep-versions)
#   conformance/matrix/rust/matrix.sh verify DATA_DIR   check bytes + decoded values of keys and
#                                                       stream entries, retention, offsets,
#                                                       histories and txns; prints
#                                                       "verify OK N keys",
#                                                       "verify OK S streams M entries" and
#                                                       "verify OK H histories T txns",
#                                                       non-zero on mismatch
# Builds the `matrix` binary offline (Debian crates, see .cargo/config.toml) on first use.
# Engine: env LITESTASH_ENGINE, else litestash-engine on PATH.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 write|verify DATA_DIR" >&2; exit 64; }
mode=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
cd "$here"
nice -n 19 cargo build --offline --locked --quiet -j 1 --bin matrix >&2
exec "$here/target/debug/matrix" "$mode" "$dir"
