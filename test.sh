#!/usr/bin/env bash
# Every test of the project, in one command: installs what is missing, builds, then runs the
# unit tests (CTest), the black-box wire suite, the Python, Elixir and Rust hosts (and their
# installs into fresh environments), the packages (.deb, wheels, tarball), the cross-language
# matrix, the reliability suites (crash loop, several processes, hostile input, security), a
# short fuzzing run, the sanitizer builds and the benchmark smoke run. Each suite prints its own
# counts; the last line sums the suites up. Exit code: non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")"
root="$PWD"
export LITESTASH_ENGINE="$root/build/litestash-engine"
py=/usr/bin/python3

packaging/ensure-deps.sh build python hosts bench fuzz package || exit 1
packaging/build.sh build -DLITESTASH_TESTS=ON -DLITESTASH_BENCH=ON || exit 1

passed=0
failed=0
failures=()
# Each suite's output is also kept in build/test-logs/; a failed suite's is shown again at the
# end, where a CI page that keeps only the tail of the run still shows why it failed.
logs="$root/build/test-logs"
rm -rf "$logs" && mkdir -p "$logs"
log_of() { echo "$logs/$(printf '%s' "$1" | tr -cs 'A-Za-z0-9' '-' | cut -c1-40).log"; }
suite() {  # suite NAME COMMAND...
  local name="$1"
  shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  if "$@" 2>&1 | tee "$(log_of "$name")"; then
    passed=$((passed + 1))
    echo "=== $name: passed in $((SECONDS - start))s"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED in $((SECONDS - start))s"
  fi
}

# --no-tests=error: a test binary that registered nothing fails instead of passing vacuously.
suite "unit tests (ctest)" ctest --test-dir build --output-on-failure --no-tests=error -j 2
suite "black-box wire suite" "$py" -m pytest -q -p no:cacheprovider conformance/blackbox
suite "python host" hosts/python/run_tests.sh
suite "elixir host" hosts/elixir/run_tests.sh
suite "rust host" hosts/rust/run_tests.sh
suite "host libraries installed into fresh environments" hosts/install_test.sh
# Its own release build in build-pkg/ (tests and bench off), then the .deb, both wheels and the
# release tarball, each installed or unpacked and run.
suite "packages (deb, wheels, tarball)" tests/packaging/test_packages.sh "$root/build-pkg"
suite "litestash-cli (one-shot, export/import, check, REPL in tmux)" tests/cli/run_tests.sh "$root/build"
suite "cross-language matrix" conformance/matrix/run_tests.sh
suite "reliability (crash loop, processes, hostile input, security)" "$py" -m pytest -q -p no:cacheprovider tests/reliability
# Checks muted with FUZZ_SKIP_CHECKS for local work on a known bug never reach this run.
suite "fuzzing (libFuzzer+ASan+UBSan, 60 s per target)" env -u FUZZ_SKIP_CHECKS tests/fuzz/run_fuzz.sh 60
suite "sanitizers (ASan+UBSan and TSan builds: unit tests + wire suite)" \
  tests/sanitizers/run_sanitizers.sh all
suite "benchmark smoke run and its tests" bash -c \
  "bench/run_bench.sh --smoke && $py -m pytest -q -p no:cacheprovider bench/tests"

for name in "${failures[@]}"; do
  echo
  echo "=== $name failed; the last 80 lines of its output, progress dots left out ($(log_of "$name")):"
  grep -Ev '^[.*]+$' "$(log_of "$name")" | tail -n 80
done
echo
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
