#!/bin/sh
# Runs the Rust host's whole test suite offline (Debian's crates, see .cargo/config.toml):
#   conformance/rust/run_tests.sh [cargo test args...]
# Engine: env LITESTASH_ENGINE, default <repo>/build/litestash-engine.
set -eu
cd "$(dirname "$0")"
exec nice -n 10 cargo test --offline --locked -j 2 "$@"
