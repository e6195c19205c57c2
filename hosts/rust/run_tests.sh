#!/bin/sh
# Runs the Rust host's whole test suite offline (Debian's crates, see .cargo/config.toml):
#   hosts/rust/run_tests.sh [cargo test args...]
# Engine: env LITESTASH_ENGINE, else litestash-engine on PATH. Exit status non-zero on failure.
set -eu
cd "$(dirname "$0")"
exec nice -n 19 cargo test --offline --locked -j 1 "$@"
