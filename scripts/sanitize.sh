#!/usr/bin/env bash
# Builds maestro-db and its tests with sanitizers and runs ctest there (issue 8).
#   scripts/sanitize.sh asan  [ctest args...]   ASan + UBSan in build-asan
#   scripts/sanitize.sh tsan  [ctest args...]   TSan in build-tsan
# Extra arguments go to ctest, e.g. `scripts/sanitize.sh asan -R 'journal|snapshot'`.
# Any sanitizer report fails the run (halt_on_error / abort_on_error).
# Jobs: ${SANITIZE_JOBS:-$(nproc)}.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-asan}
shift || true
case "$kind" in
  asan) build=build-asan ;;
  tsan) build=build-tsan ;;
  *) echo "usage: $0 asan|tsan [ctest args...]" >&2; exit 2 ;;
esac
jobs=${SANITIZE_JOBS:-$(nproc)}
cmake --preset "$kind" >/dev/null  # CMakePresets.json: sanitizers, no benchmarks
cmake --build "$build" -j"$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# The binary the CLI tests run is sanitized too, so its reports fail those tests.
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@"
