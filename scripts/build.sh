#!/usr/bin/env bash
# Configures and builds maestro-db with a CMake preset (CMakePresets.json holds
# every setting; this script repeats none): ${PRESET:-ci}, RelWithDebInfo with
# warnings as errors, into its binaryDir (build/ for ci), or ${BUILD_DIR} if set.
# Extra arguments go to the configure step, e.g. scripts/build.sh -DMAESTRO_DB_BUILD_BENCHMARKS=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${PRESET:-ci}
dir=()
[ -n "${BUILD_DIR:-}" ] && dir=(-B "$BUILD_DIR")
cmake --preset "$PRESET" "${dir[@]}" "$@" >/dev/null
if [ -n "${BUILD_DIR:-}" ]; then
  cmake --build "$BUILD_DIR" -j"$(nproc)"
else
  cmake --build --preset "$PRESET" -j"$(nproc)"
fi
