#!/usr/bin/env bash
# The README's first command: install what is missing, build, create a demo MAESTRO
# install under ${DEMO_DIR:-/tmp/maestro-demo} and run the main job on it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
BIN=$PWD/${BUILD_DIR:-build}/maestro-db
DEMO=${DEMO_DIR:-/tmp/maestro-demo}
rm -rf "$DEMO"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$BIN" demo create "$DEMO" --documents 200 --inconsistent --seed 7
step "$BIN" --root "$DEMO" stats
step "$BIN" --root "$DEMO" check || true   # exit 1: issues found, as planted
