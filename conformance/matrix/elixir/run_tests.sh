#!/bin/sh
# Runs the tests of the Elixir matrix host (write, verify, key, stream and history changes
# detected; the data set's native encoding), offline:
#   conformance/matrix/elixir/run_tests.sh [mix test args...]
# Engine: env LITESTASH_ENGINE, else litestash-engine on PATH. Non-zero exit on failure.
set -eu
cd "$(dirname "$0")"
export MIX_ENV=test
export MIX_HOME="${MIX_HOME:-$PWD/_build/mix_home}"
export HEX_HOME="${HEX_HOME:-$PWD/_build/hex_home}"
export HEX_OFFLINE=1
exec nice -n 19 mix test --warnings-as-errors "$@"
