#!/bin/sh
# Runs the tests of the Rust matrix host (write, verify, corruption of keys, streams and
# history detected; the data set's native encoding) offline:
#   conformance/matrix/rust/run_tests.sh [args]
# Engine: env LITESTASH_ENGINE, else litestash-engine on PATH. Non-zero exit on failure.
set -eu
cd "$(dirname "$0")"
exec nice -n 19 cargo test --offline --locked -j 1 "$@"
