#!/bin/bash
# benchmarks/memory/run.sh — peak memory and time of the five repository commands on a
# large install (issue 14 point 2: each under 64 MiB peak RSS at 300,000 files and 10 GiB).
#
#   benchmarks/memory/run.sh                               # 300,000 files, 10 GiB, build/maestro-db
#   FILES=300000 TOTAL_MIB=2048 LABEL=small benchmarks/memory/run.sh
#   BIN=/tmp/old/maestro-db LABEL=before benchmarks/memory/run.sh
#
# Makes (once per FILES/TOTAL_MIB, kept in $WORK_DIR for the next run) an install:
# `maestro-db demo create` for the databases and the vector store, then
# gen_install.py for FILES small files and few big incompressible ones up to
# TOTAL_MIB. Then, each under /usr/bin/time -v, on a fresh repository:
#   snap create (first), snap create (unchanged second), snap restore latest --to DIR,
#   snap verify --all --read-data, snap prune --keep-last 1, snap copy --all --to DIR
# and writes the peak RSS and wall time of each as a table (stdout and
# benchmarks/results/memory-<UTC time>-<LABEL>.md) and JSON (.json beside it).
# The page cache is not dropped (the machine is shared): times are warm-ish.
# Environment: FILES, TOTAL_MIB, BIN, WORK_DIR (default /tmp/maestro-membench),
# LABEL (default: the binary's git commit, or "run"), KEEP_REPO=1 keeps the repository.
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
FILES="${FILES:-300000}"
TOTAL_MIB="${TOTAL_MIB:-10240}"
BIN="${BIN:-$SRC/build/maestro-db}"
WORK_DIR="${WORK_DIR:-/tmp/maestro-membench}"
LABEL="${LABEL:-$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo run)}"
RESULTS="$SRC/benchmarks/results"
[[ -x "$BIN" ]] || { echo "no maestro-db binary at $BIN (build it, or set BIN)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing: apt-get install -y time" >&2; exit 2; }

INSTALL="$WORK_DIR/install-$FILES-$TOTAL_MIB"
RUN="$WORK_DIR/run-$LABEL"
REPO="$RUN/repo"
cleanup() { rm -rf "$RUN/restore" "$RUN/copy"; [[ "${KEEP_REPO:-0}" == 1 ]] || rm -rf "$RUN"; }
trap cleanup EXIT

if [[ ! -f "$INSTALL/.complete" ]]; then
  echo "making the install in $INSTALL ($FILES files, $TOTAL_MIB MiB)..."
  rm -rf "$INSTALL"
  "$BIN" demo create "$INSTALL" --documents 50 --seed 1 >/dev/null
  python3 "$HERE/gen_install.py" "$INSTALL" "$FILES" $((TOTAL_MIB * 1024 * 1024))
  touch "$INSTALL/.complete"
fi
INSTALL_FILES=$(find "$INSTALL" -type f ! -name .complete | wc -l)
INSTALL_BYTES=$(du -sb --exclude=.complete "$INSTALL" | cut -f1)

rm -rf "$RUN"
mkdir -p "$RUN" "$RESULTS"
# A private copy: a rebuild of $BIN during the run (it happened) must not make a step fail with 126.
cp "$BIN" "$RUN/maestro-db"
BIN_SHOWN="$BIN"
BIN="$RUN/maestro-db"
FAILED=0
MD_ROWS=()
JSON_ROWS=()
# measure NAME ARGS...: one command under /usr/bin/time -v.
measure() {
  local name="$1"; shift
  local tv="$RUN/time-$name.txt" rc=0
  /usr/bin/time -v -o "$tv" "$BIN" --root "$INSTALL" --repo "$REPO" --yes "$@" >"$RUN/out-$name.txt" 2>&1 || rc=$?
  local kib secs
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  printf '%-28s %8.1f MiB %9.1f s  rc=%d\n' "$name" "$(echo "$kib / 1024" | bc -l)" "$secs" "$rc"
  if [[ $rc != 0 ]]; then echo "  (failed: see below)"; tail -5 "$RUN/out-$name.txt"; FAILED=$((FAILED + 1)); fi
  MD_ROWS+=("| $name | $(printf '%.1f' "$(echo "$kib / 1024" | bc -l)") | $secs | $rc |")
  JSON_ROWS+=("{\"command\": \"$name\", \"peak_rss_kib\": $kib, \"seconds\": $secs, \"exit_code\": $rc}")
}

echo "binary $BIN_SHOWN ($LABEL); install $INSTALL_FILES files, $INSTALL_BYTES bytes; $(uptime)"
measure "snap create"              snap create --label first
measure "snap create (unchanged)"  snap create --label second
measure "snap restore --to"        snap restore latest --to "$RUN/restore"
rm -rf "$RUN/restore"
measure "snap verify --read-data"  snap verify --all --read-data
measure "snap prune"               snap prune --keep-last 1
measure "snap copy --to"           snap copy --all --to "$RUN/copy"
rm -rf "$RUN/copy"

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="$RESULTS/memory-$STAMP-$LABEL"
{
  echo "# Memory benchmark $STAMP ($LABEL)"
  echo
  echo "Install: $INSTALL_FILES files, $INSTALL_BYTES bytes ($FILES small files + big incompressible ones)."
  echo "Binary: $BIN_SHOWN. Load: $(uptime). Command: \`FILES=$FILES TOTAL_MIB=$TOTAL_MIB benchmarks/memory/run.sh\`"
  echo
  echo "| command | peak RSS (MiB) | wall (s) | exit |"
  echo "|---|---|---|---|"
  printf '%s\n' "${MD_ROWS[@]}"
} >"$OUT.md"
{
  echo "{\"label\": \"$LABEL\", \"stamp\": \"$STAMP\", \"files\": $INSTALL_FILES, \"bytes\": $INSTALL_BYTES,"
  echo " \"binary\": \"$BIN_SHOWN\", \"uptime\": \"$(uptime | sed 's/"//g')\", \"commands\": ["
  (IFS=$'\n'; echo "${JSON_ROWS[*]}" | sed '$!s/$/,/')
  echo "]}"
} >"$OUT.json"
cat "$OUT.md"
echo "written: $OUT.md $OUT.json"
if [[ $FAILED != 0 ]]; then
  echo "memory benchmark: $FAILED command(s) failed (exit column): their rows measure nothing" >&2
  exit 1
fi
