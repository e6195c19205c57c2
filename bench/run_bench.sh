#!/usr/bin/env bash
# Runs the whole benchmark (engine + raw SQLite + Redis + diskcache/Python host) and writes
# bench/results/latest.{json,md,png}. Flags go to bench/report.py: --keys N, --quick, --smoke,
# --engine PATH, --bench-bin PATH, --depth N, --skip redis|python|sqlite|full-sync|spawn|streams|versions, ...
# Builds build/bench/litestash-bench first when the build tree is configured and it is missing.
# Exit status: 0 ok, 1 a step crashed or produced no figures (no timing is asserted).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bench_bin="${LITESTASH_BENCH:-$repo/build/bench/litestash-bench}"
if [[ ! -x "$bench_bin" && -f "$repo/build/CMakeCache.txt" && -z "${LITESTASH_BENCH:-}" ]]; then
  echo "[run_bench] building litestash-bench" >&2
  nice -n 10 cmake --build "$repo/build" --target litestash-bench -j 2 >&2
fi
exec /usr/bin/python3 "$repo/bench/report.py" --bench-bin "$bench_bin" "$@"
