#!/usr/bin/env bash
# The README's first command: install what is missing, build, create a demo MAESTRO
# install under ${DEMO_DIR:-/tmp/maestro-demo} and run the main job on it:
# stats, check, snapshot, cleanup, reset, restore, verify.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
TARGET=maestro-db ./scripts/build.sh  # the binary only: the tests are scripts/test.sh's
BIN=$PWD/${BUILD_DIR:-build}/maestro-db
DEMO=${DEMO_DIR:-/tmp/maestro-demo}
rm -rf "$DEMO"
step() { printf '\n\033[1m$ %s\033[0m\n' "maestro-db ${*}"; "$BIN" "$@"; }
expect_issues() { printf '\n\033[1m$ %s\033[0m\n' "maestro-db ${*}"; "$BIN" "$@" || [ $? -eq 1 ]; }

step demo create "$DEMO" --documents 200 --inconsistent --seed 7
step --root "$DEMO" stats
expect_issues --root "$DEMO" check                      # exit 1: the planted issues are found
step --root "$DEMO" snap create --label "demo: before cleanup"
step --root "$DEMO" --yes cleanup --all --failed-older-than 0s --downgrade-incomplete
step --root "$DEMO" check                               # consistent now
step --root "$DEMO" --yes reset                         # pre-reset snapshot, then every store emptied together
step --root "$DEMO" stats
step --root "$DEMO" --yes snap restore latest           # back to the state before the reset, as a transaction
step --root "$DEMO" check
step --root "$DEMO" snap list
step --root "$DEMO" snap verify --all --read-data
step --root "$DEMO" journal status
printf '\nDemo install: %s (snapshots and journal in %s/backups/maestro-db)\n' "$DEMO" "$DEMO"
