#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) and runs each for
# ${FUZZ_SECONDS:-20} seconds (CI: brief; on demand: FUZZ_SECONDS=3600).
# Corpora live in tests/fuzz/corpus/<target>/ (seeds checked in; new finds kept in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAESTRO_DB_BUILD_FUZZERS=ON -DMAESTRO_DB_BUILD_TESTS=OFF -DMAESTRO_DB_BUILD_BENCHMARKS=OFF >/dev/null
targets=$(sed -n 's/^maestro_fuzzer(\([a-z_]*\).*/\1/p' tests/fuzz/CMakeLists.txt)
cmake --build "$BUILD" -j"$(nproc)" --target $targets
passed=0; failed=0
for t in $targets; do
  corpus="$BUILD/corpus/$t"; mkdir -p "$corpus"
  seeds=tests/fuzz/corpus/$t
  [ -d "$seeds" ] || seeds=""
  echo "fuzz: $t for ${FUZZ_SECONDS:-20}s"
  if "$BUILD/tests/fuzz/$t" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=1024 -max_len=65536 \
       -print_final_stats=0 "$corpus" $seeds >"$BUILD/$t.log" 2>&1; then
    passed=$((passed+1))
  else
    failed=$((failed+1)); echo "fuzz: $t FAILED, see $BUILD/$t.log"; tail -30 "$BUILD/$t.log"
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
