#!/bin/sh
# Runs the Python host's test suite with Debian's python3 (python3-msgpack, python3-pytest),
# offline, against the package in this source tree:
#   hosts/python/run_tests.sh [pytest args...]
# Engine: env LITESTASH_ENGINE, else litestash-engine on PATH. Exit status non-zero on failure.
set -eu
cd "$(dirname "$0")"
exec nice -n 19 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests "$@"
