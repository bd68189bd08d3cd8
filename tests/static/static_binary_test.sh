#!/usr/bin/env bash
# tests/static/static_binary_test.sh — the statically linked maestro-db
# (scripts/build-static.sh) has no dynamic dependencies and works in a root that
# holds nothing but itself and an install: no /usr, no /lib, no /etc — what it
# meets in MAESTRO's Ubuntu 22.04 container, only stricter. CTest label `static`
# (not in the default suite: `.ci/run static` builds the binary and runs it).
#
# Runs as root: `unshare --mount` gives a private mount namespace in which /proc
# is mounted inside the temporary root (the live-app guard reads /proc), then
# `chroot`. Without a mount namespace it runs chrooted without /proc; when chroot
# itself is refused (no CAP_SYS_CHROOT) it skips (exit 77) and says so.
#   $1 or MAESTRO_STATIC_BINARY: the binary (default <source>/build-static/maestro-db).
#   MAESTRO_STATIC_REQUIRED=1: a missing binary fails instead of skipping.
set -uo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BIN=${1:-${MAESTRO_STATIC_BINARY:-$SRC/build-static/maestro-db}}
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
if [ ! -x "$BIN" ]; then
  msg="no static binary at $BIN: run scripts/build-static.sh first"
  [ "${MAESTRO_STATIC_REQUIRED:-0}" = 1 ] && fail "$msg"
  skip "$msg"
fi

# 1. No dynamic dependencies.
readelf -lW "$BIN" | grep -q INTERP && fail "$BIN has a program interpreter (PT_INTERP): it is dynamically linked"
readelf -dW "$BIN" | grep -q NEEDED && fail "$BIN needs shared libraries: $(readelf -dW "$BIN" | grep NEEDED)"
ldd_out=$(ldd "$BIN" 2>&1)
echo "$ldd_out" | grep -q "not a dynamic executable" || fail "ldd lists dependencies: $ldd_out"
echo "ok: no PT_INTERP, no NEEDED; ldd: $(echo "$ldd_out" | tr -s ' ')"

# 2. A root with only the binary and a demo install.
[ "$(id -u)" -eq 0 ] || skip "needs root for chroot (run the static job as root)"
T=$(mktemp -d /tmp/maestro-static-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/tmp" "$T/proc"
cp "$BIN" "$T/maestro-db"
"$BIN" demo create "$T/app" --documents 12 --pdf-kib 1 >/dev/null || fail "demo create"
err=$(chroot "$T" /maestro-db --help 2>&1 >/dev/null) ||
  skip "chroot is refused here ($err); the binary's dependencies were checked above"
[ -e "$T/usr" ] || [ -e "$T/lib" ] || [ -e "$T/lib64" ] || [ -e "$T/etc" ] &&
  fail "the test root should hold no /usr, /lib or /etc"
echo "root: $(ls "$T" | tr '\n' ' ')"

# Every command inside the root, in a private mount namespace with /proc when
# possible. The root has no shell and no env: the binary is exec'd directly.
if unshare --mount --fork true 2>/dev/null; then
  inroot() { TMPDIR=/tmp unshare --mount --fork sh -c "mount -t proc proc '$T/proc' && exec chroot '$T' /maestro-db \"\$@\"" sh "$@"; }
  echo "mode: unshare --mount + chroot, /proc mounted"
else
  inroot() { TMPDIR=/tmp chroot "$T" /maestro-db "$@"; }
  echo "mode: chroot without /proc (unshare --mount refused)"
fi

run() {
  local out
  out=$(inroot "$@" 2>&1) || fail "maestro-db $* (in the root): $out"
  echo "$out"
}
expect() {  # expect WORDS ARGS...: maestro-db ARGS in the root prints WORDS
  local words=$1 out
  shift
  out=$(run "$@") || exit 1
  case "$out" in *"$words"*) ;; *) fail "maestro-db $* printed no '$words': $out" ;; esac
}
expect "present" --root /app stats
echo "ok: stats"
expect "consistent" --root /app check
echo "ok: check"
out=$(run --root /app snap create) || exit 1
id=$(echo "$out" | tail -1)
[ -n "$id" ] || fail "snap create printed no id"
echo "ok: snap create $id"
expect "no problems found" --root /app snap verify --read-data
echo "ok: snap verify --read-data"
expect "drill passed" --root /app snap verify --drill "$id"
echo "ok: snap verify --drill $id"
[ -d "$T/app/backups/maestro-db" ] || fail "the repository is not under /app/backups/maestro-db"
echo "PASS: static maestro-db works in a root without /usr/lib"
