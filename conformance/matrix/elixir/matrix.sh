#!/bin/sh
# Cross-language matrix role of the Elixir host (LiteStash.Matrix in lib/litestash_matrix.ex,
# on the library in hosts/elixir, a path dependency).
#   conformance/matrix/elixir/matrix.sh write DATA_DIR    store every dataset.json entry,
#                                                         append every streams.json stream, run
#                                                         history.json's steps (--keep-versions)
#   conformance/matrix/elixir/matrix.sh verify DATA_DIR   check bytes + decoded values, streams
#                                                         (ids, bytes, retention, offsets),
#                                                         histories and txns; prints
#                                                         "verify OK N keys",
#                                                         "verify OK S streams M entries" and
#                                                         "verify OK H histories T txns",
#                                                         non-zero on mismatch
# Engine: env LITESTASH_ENGINE, else litestash-engine on PATH. Offline (no hex).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 write|verify DATA_DIR" >&2; exit 64; }
mode=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
cd "$here"
export MIX_ENV="${MIX_ENV:-test}"
export MIX_HOME="${MIX_HOME:-$here/_build/mix_home}"
export HEX_HOME="${HEX_HOME:-$here/_build/hex_home}"
export HEX_OFFLINE=1
# Compile first, chatter to stderr, so that stdout carries only the result line.
nice -n 19 mix compile >&2
exec mix run --no-compile -e 'System.halt(LiteStash.Matrix.main(System.argv()))' -- "$mode" "$dir"
