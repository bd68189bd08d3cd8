#!/usr/bin/env bash
# Configures and builds maestro-db with a CMake preset (CMakePresets.json holds
# every setting; this script repeats none): ${PRESET:-ci}, RelWithDebInfo with
# warnings as errors, into its binaryDir (build/ for ci), or ${BUILD_DIR} if set.
# Extra arguments go to the configure step, e.g. scripts/build.sh -DMAESTRO_DB_BUILD_BENCHMARKS=OFF.
# TARGET=NAME builds that target only (scripts/demo.sh: TARGET=maestro-db).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${PRESET:-ci}
dir=()
[ -n "${BUILD_DIR:-}" ] && dir=(-B "$BUILD_DIR")
cmake --preset "$PRESET" "${dir[@]}" "$@" >/dev/null
target=()
[ -n "${TARGET:-}" ] && target=(--target "$TARGET")
if [ -n "${BUILD_DIR:-}" ]; then
  cmake --build "$BUILD_DIR" -j"$(nproc)" "${target[@]}"
else
  cmake --build --preset "$PRESET" -j"$(nproc)" "${target[@]}"
fi
