#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite.
#  1. the fuzz targets replay their seeds and regression inputs (clang + ASan/UBSan,
#     deterministic, no random search: scripts/fuzz.sh with FUZZ_SECONDS=0);
#  2. ctest runs every GoogleTest case: unit, CLI, crash-matrix, fault, power-cut,
#     corruption, concurrency and hostile-input suites.
# Ends with ctest's summary line ("100% tests passed, 0 tests failed out of N").
#  3. the real-Chroma suite (chroma_real_test) installs chromadb from npm into
#     build/chroma-npm on first use (scripts/chroma-setup.sh; skipped when npm is unreachable).
# Longer checks, on demand: FUZZ_SECONDS=600 scripts/fuzz.sh, scripts/sanitize.sh asan|tsan.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
FUZZ_SECONDS=0 ./scripts/fuzz.sh
PRESET=ci ./scripts/build.sh  # the ci preset: warnings are errors
if [ -n "${BUILD_DIR:-}" ]; then
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout 600 -LE static
else
  ctest --preset ci -j"$(nproc)"  # -LE static, --timeout 600 (the static binary: .ci/run static)
fi
