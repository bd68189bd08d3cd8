#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) and runs each for
# ${FUZZ_SECONDS:-20} seconds (on demand: FUZZ_SECONDS=3600).
# FUZZ_SECONDS=0 replays the checked-in seeds and regression inputs once, with no
# random search: deterministic, seconds long, what scripts/test.sh (and CI) runs.
# Corpora: tests/fuzz/corpus/<target>/ (seeds), tests/fuzz/regressions/<target>/
# (inputs that once crashed); new finds are kept in build-fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
cmake --preset fuzz -B "$BUILD" >/dev/null  # CMakePresets.json: clang, fuzzers on, tests off
targets=$(sed -n 's/^maestro_fuzzer(\([a-z_]*\).*/\1/p' tests/fuzz/CMakeLists.txt)
cmake --build "$BUILD" -j"$(nproc)" --target $targets
passed=0; failed=0
for t in $targets; do
  corpus="$BUILD/corpus/$t"; mkdir -p "$corpus"
  dirs=()
  for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do [ -d "$d" ] && dirs+=("$d"); done
  secs=${FUZZ_SECONDS:-20}
  if [ "$secs" -eq 0 ]; then
    echo "fuzz: $t replaying ${dirs[*]:-nothing}"
    run=("$BUILD/tests/fuzz/$t" -runs=0 -rss_limit_mb=1024 "${dirs[@]}")
  else
    echo "fuzz: $t for ${secs}s"
    run=("$BUILD/tests/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=1024 -max_len=65536 \
         -print_final_stats=0 "$corpus" "${dirs[@]}")
  fi
  if "${run[@]}" >"$BUILD/$t.log" 2>&1; then
    passed=$((passed+1))
  else
    failed=$((failed+1)); echo "fuzz: $t FAILED, see $BUILD/$t.log"; tail -30 "$BUILD/$t.log"
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
