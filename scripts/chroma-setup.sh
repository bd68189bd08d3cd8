#!/usr/bin/env bash
# Installs a real Chroma for tests/chroma_real_test.cc into DIR (default
# build/chroma-npm) from the npm registry: chromadb@3.0.12 (the JS client and
# its `chroma run` server command) with chromadb-js-bindings-linux-x64-gnu@1.0.5,
# the Rust core of chromadb 1.0.x that MAESTRO's SQLite era ran (later bindings
# need a newer glibc than Debian 12's 2.36). About 440 MB; done once per DIR.
#
# Exit 0: installed (or already there). Exit 77: npm (or node) cannot be used or
# the registry cannot be reached; the reason is printed and the test skips.
# Exit 1: the registry answered but the install failed (a test failure).
set -uo pipefail
DIR=${1:-"$(dirname "$0")/../build/chroma-npm"}
CHROMADB=3.0.12
BINDINGS=1.0.5
have() { [ -f "$DIR/node_modules/$1/package.json" ] &&
         grep -q "\"version\": \"$2\"" "$DIR/node_modules/$1/package.json"; }
if have chromadb "$CHROMADB" && have chromadb-js-bindings-linux-x64-gnu "$BINDINGS"; then
  exit 0
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "chroma-setup: '$tool' is not installed (Node.js >= 18 with npm is needed for the real-Chroma tests)"
    exit 77
  fi
done
ping_out=$(timeout 30 npm ping 2>&1)
ping_rc=$?
if [ $ping_rc -ne 0 ]; then
  why=$(echo "$ping_out" | grep -iE "err|fail|refused|timed? ?out" | tail -1)
  [ $ping_rc -eq 124 ] && why="no answer within 30 s"
  echo "chroma-setup: the npm registry ($(npm config get registry 2>/dev/null)) cannot be reached: ${why:-$(echo "$ping_out" | tail -1)}"
  exit 77
fi
mkdir -p "$DIR"
if ! out=$(timeout 600 npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error \
             "chromadb@$CHROMADB" "chromadb-js-bindings-linux-x64-gnu@$BINDINGS" 2>&1); then
  echo "chroma-setup: npm install into $DIR failed:"
  echo "$out" | tail -20
  exit 1
fi
if ! have chromadb "$CHROMADB" || ! have chromadb-js-bindings-linux-x64-gnu "$BINDINGS"; then
  echo "chroma-setup: npm finished but $DIR lacks chromadb $CHROMADB / bindings $BINDINGS"
  exit 1
fi
echo "chroma-setup: chromadb $CHROMADB with bindings $BINDINGS in $DIR"
