#!/bin/sh
# The cross-language matrix suite: first the tests of each language's matrix host (and of the
# driver), then the matrix itself, every writer x every reader:
#   conformance/matrix/run_tests.sh [run_matrix.py args...]
# Offline, at low priority. Engine: env LITESTASH_ENGINE, else litestash-engine on PATH.
# Exit status non-zero when any part fails (every part runs regardless).
set -u
cd "$(dirname "$0")"
failed=""
part() {  # part NAME COMMAND...
  name=$1
  shift
  echo "--- matrix: $name"
  "$@" || failed="$failed $name"
}
part "python host tests" nice -n 19 /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests
part "elixir host tests" elixir/run_tests.sh
part "rust host tests" rust/run_tests.sh
part "matrix" nice -n 19 /usr/bin/python3 run_matrix.py "$@"
if [ -n "$failed" ]; then
  echo "matrix suite FAILED:$failed"
  exit 1
fi
echo "matrix suite passed"
