#!/bin/bash
# run_fuzz.sh: build the libFuzzer targets of tests/fuzz/ and fuzz each one for a while.
#
#   tests/fuzz/run_fuzz.sh [SECONDS_PER_TARGET]        (default 60)
#
# 1. Configures and builds <repo>/build-fuzz (override: env FUZZ_BUILD_DIR) with CC=clang
#    CXX=clang++ -DLITESTASH_FUZZ=ON (libFuzzer + ASan + UBSan; nice -n 10, -j${FUZZ_JOBS:-2}).
# 2. Per target: replays every file of tests/fuzz/regressions/<target>/ (bugs found before must
#    stay fixed), then fuzzes for SECONDS_PER_TARGET seconds starting from a temporary copy of
#    tests/fuzz/corpus/<target>/ (the committed corpus is never modified) with
#      -rss_limit_mb=512 -malloc_limit_mb=16 -timeout=10 [-dict=<target>.dict]
#    The targets' frame limits are 64 KiB (frame_reader, Session) and 1 MiB (DecodeRequest),
#    so any single allocation above 16 MiB is a bug; request_decoder_fuzz also checks a tighter
#    per-frame bound itself (see its header).
#    ASAN_OPTIONS defaults to detect_leaks=1:quarantine_size_mb=64 (keeps RSS well under 512 MB).
#    Extra libFuzzer flags: env FUZZ_EXTRA_ARGS. Known-bug checks can be muted with env
#    FUZZ_SKIP_CHECKS (see README.md).
# 3. Prints per target the executions, exec/s, corpus growth and coverage, and the crash report
#    and reproducer path of any failure (reproducers are kept in <build>/fuzz-artifacts/).
# Exit status: 0 all clean; 1 a crash, leak, timeout, OOM or failed regression; 2 build failed.
set -u

SECONDS_PER_TARGET=${1:-60}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
JOBS=${FUZZ_JOBS:-2}
TARGETS=(frame_reader_fuzz request_decoder_fuzz)
FLAGS=(-rss_limit_mb=512 -malloc_limit_mb=16 -timeout=10 -print_final_stats=1)
# ASan's default 256 MB free-memory quarantine alone would take half of the 512 MB RSS budget.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64}

if [[ -n ${FUZZ_SKIP_CHECKS:-} ]]; then
  echo "== WARNING: FUZZ_SKIP_CHECKS=$FUZZ_SKIP_CHECKS mutes these checks in this run"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/litestash-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== building $BUILD (clang, LITESTASH_FUZZ=ON)"
if ! CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DLITESTASH_FUZZ=ON >"$WORK/cmake.log" 2>&1; then
  cat "$WORK/cmake.log"
  exit 2
fi
if ! nice -n 10 cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log"
  exit 2
fi
ARTIFACTS=$BUILD/fuzz-artifacts
mkdir -p "$ARTIFACTS"
status=0

# stat NAME LOG: the value of libFuzzer's final "stat::NAME: value" line, or "?".
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1 | grep . || echo "?"; }

for t in "${TARGETS[@]}"; do
  bin=$BUILD/tests/fuzz/$t
  dict=()
  [[ -f $ROOT/tests/fuzz/$t.dict ]] && dict=(-dict="$ROOT/tests/fuzz/$t.dict")

  # Regressions: each file runs once; any failure fails the whole run.
  shopt -s nullglob
  regressions=("$ROOT/tests/fuzz/regressions/$t"/*)
  shopt -u nullglob
  for r in "${regressions[@]}"; do
    if ! "$bin" "${FLAGS[@]}" "$r" >"$WORK/replay.log" 2>&1; then
      echo "!! $t: regression input still fails: $r"
      grep -aE "FUZZ_CHECK|ERROR|SUMMARY|^  " "$WORK/replay.log" | head -n 20
      status=1
    fi
  done
  [[ ${#regressions[@]} -gt 0 ]] && echo "== $t: replayed ${#regressions[@]} regression input(s)"

  # Fuzzing on a scratch copy of the seed corpus.
  mkdir -p "$WORK/$t"
  cp "$ROOT/tests/fuzz/corpus/$t"/* "$WORK/$t/"
  seeds=$(ls "$WORK/$t" | wc -l)
  log=$WORK/$t.log
  echo "== $t: fuzzing ${SECONDS_PER_TARGET}s from $seeds seeds"
  # shellcheck disable=SC2086  # FUZZ_EXTRA_ARGS is a list of flags
  "$bin" "${FLAGS[@]}" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" \
    -artifact_prefix="$ARTIFACTS/$t-" ${FUZZ_EXTRA_ARGS:-} "$WORK/$t" >"$log" 2>&1
  rc=$?
  execs=$(stat number_of_executed_units "$log")
  [[ $execs == "?" ]] && execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
  printf '%-22s execs=%s exec/s=%s new_units=%s corpus=%s->%s files  %s  peak_rss=%sMB  rc=%d\n' \
    "$t" "${execs:-?}" "$(stat average_exec_per_sec "$log")" "$(stat new_units_added "$log")" \
    "$seeds" "$(ls "$WORK/$t" | wc -l)" "$cov" "$(stat peak_rss_mb "$log")" "$rc"
  if [[ $rc -ne 0 ]]; then
    status=1
    echo "!! $t FAILED (libFuzzer exit $rc); report:"
    grep -avE '^#[0-9]+|^INFO:|^stat::' "$log" | tail -n 60
    echo "!! reproducer(s):"
    grep -aoE "(Test unit|artifact_prefix.*Test unit) written to [^ ]+" "$log" | sed 's/.*written to /   /'
  fi
done

if [[ $status -eq 0 ]]; then echo "== fuzzing: all targets clean"; else echo "== fuzzing: FAILED"; fi
exit $status
