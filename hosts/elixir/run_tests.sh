#!/bin/sh
# Runs the Elixir host's whole test suite, offline, from a clean clone:
#   hosts/elixir/run_tests.sh [mix test args...]
# No hex packages are used, so nothing is fetched; MIX_HOME/HEX_HOME point inside _build so a
# missing or read-only HOME does not matter. Engine: env LITESTASH_ENGINE, else litestash-engine
# on PATH. Exit status non-zero on any failure.
set -eu
cd "$(dirname "$0")"
export MIX_ENV=test
export MIX_HOME="${MIX_HOME:-$PWD/_build/mix_home}"
export HEX_HOME="${HEX_HOME:-$PWD/_build/hex_home}"
export HEX_OFFLINE=1
exec nice -n 19 mix test --warnings-as-errors "$@"
