#!/bin/sh
# Runs litestash-cli's process-level tests (tests/cli/test_cli.py) with the system pytest.
# usage: tests/cli/run_tests.sh [BUILD_DIR] [pytest args...]
#   BUILD_DIR (default build) holds litestash-cli; LITESTASH_ENGINE overrides the engine
#   (default BUILD_DIR/litestash-engine). The REPL tests need tmux (they fail without it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
export LITESTASH_CLI=${LITESTASH_CLI:-$build/litestash-cli}
export LITESTASH_ENGINE=${LITESTASH_ENGINE:-$build/litestash-engine}
for bin in "$LITESTASH_CLI" "$LITESTASH_ENGINE"; do
  [ -x "$bin" ] || { echo "run_tests.sh: $bin is missing; build it first" >&2; exit 2; }
done
exec /usr/bin/python3 -m pytest -q "$here/test_cli.py" "$@"
