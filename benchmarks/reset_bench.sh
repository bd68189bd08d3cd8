#!/usr/bin/env bash
# benchmarks/reset_bench.sh — what the journal and the transaction machinery cost.
#
# 1. reset of a demo install of about SIZE bytes (default 1 GiB), reported as the
#    command's wall time = its pre-reset snapshot (begin -> snapshot record, create
#    + verify) + the rest (start-up, live check, steps, commit, renaming the old
#    stores to trash, end); goal: rest < 10% of the wall time. Deleting the trash
#    runs after the command, in a detached purge (MAESTRO_DB_PURGE=background,
#    docs/commands.md): its time until the trash is gone is reported separately.
# 2. cleanup of ORPHANS orphans (documents rows deleted, so their ai rows, chunks
#    and files become orphans) out of DOCS documents; goal: seconds. Run twice:
#    into an empty repository, and after a nightly snapshot (the usual case).
#
# Usage: benchmarks/reset_bench.sh [MAESTRO_DB_BIN]
#   env: SIZE, DOCS, ORPHANS, WORK; AT_REST=0 skips the `sync` after writing the
#   install (a just-written install); CLEANUP=0 runs the reset only.
set -euo pipefail
BIN=${1:-${MAESTRO_DB_BIN:-$(dirname "$0")/../build/maestro-db}}
SIZE=${SIZE:-1073741824}
DOCS=${DOCS:-100000}
ORPHANS=${ORPHANS:-1000}
WORK=${WORK:-$(mktemp -d)}
NOW=2025-08-08T12:00:00Z
trap 'rm -rf "$WORK"' EXIT

phase() {  # seconds between the begin and snapshot records, and snapshot -> end, of the last txn
  "$BIN" --root "$1" --json journal log --limit 200 | python3 -c '
import json, sys
recs = json.load(sys.stdin)["records"]
txn = [r for r in recs if r["type"] == "begin"][-1]["transaction"]
t = {r["type"]: r["time_micros"] for r in recs if r["transaction"] == txn}
snap = (t["snapshot"] - t["begin"]) / 1e6
rest = (t["end"] - t["snapshot"]) / 1e6
print(f"snapshot {snap:.2f} s, rest {rest:.2f} s, total {snap + rest:.2f} s, rest = {100 * rest / (snap + rest):.1f}% of total")'
}

now() { date +%s.%N; }
echo "== reset of a ~$((SIZE / 1048576)) MiB demo install"
"$BIN" demo create "$WORK/r" --target-bytes "$SIZE" --documents 200 --now "$NOW" >/dev/null
# An install at rest: not 1 GiB of dirty pages the reset's fsyncs would wait behind.
[[ ${AT_REST:-1} == 0 ]] || sync
t0=$(now)
"$BIN" --root "$WORK/r" -y -q reset
t1=$(now)
# The detached purge: wait until no trash is left beside the stores.
while [[ -n $(find "$WORK/r" -maxdepth 4 -name '*.maestro-trash-*' -print -quit) ]]; do sleep 0.02; done
t2=$(now)
"$BIN" --root "$WORK/r" --json journal log --limit 200 | python3 -c '
import json, sys
t0, t1, t2 = (float(a) for a in sys.argv[1:4])
wall, purge = t1 - t0, t2 - t1
recs = json.load(sys.stdin)["records"]
txn = [r for r in recs if r["type"] == "begin"][-1]["transaction"]
t = {r["type"]: r["time_micros"] for r in recs if r["transaction"] == txn}
snap = (t["snapshot"] - t["begin"]) / 1e6
rest = wall - snap
span = (t["end"] - t["begin"]) / 1e6
print(f"wall {wall:.2f} s = snapshot {snap:.2f} s + rest {rest:.2f} s; rest = {100 * rest / wall:.1f}% of the reset "
      f"(journal begin -> end {span:.2f} s)")
print(f"background purge of the old stores: done {purge:.2f} s after the reset returned")' \
  "$t0" "$t1" "$t2"
rm -rf "$WORK/r"

# cleanup_case DIR NIGHTLY: orphans ORPHANS documents of a DOCS-document install and
# cleans them up; NIGHTLY=1 first takes a snapshot (the nightly schedule's), so the
# pre-cleanup snapshot only re-reads what changed since.
cleanup_case() {
  "$BIN" -q demo create "$1" --documents "$DOCS" --chunks-per-doc 2 --pdf-kib 1 --now "$NOW" >/dev/null
  if [[ $2 == 1 ]]; then
    sleep 2  # older than the racy-timestamp margin, as an install is by night
    "$BIN" --root "$1" -q snap create --label nightly >/dev/null
  fi
  sqlite3 "$1/data/maestro.db" "DELETE FROM documents WHERE id IN (SELECT id FROM documents ORDER BY id LIMIT $ORPHANS);"
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$BIN" --root "$1" -y -q cleanup --all --now "$NOW"
  phase "$1"
  "$BIN" --root "$1" check --now "$NOW" | tail -1
  rm -rf "$1"
}
[[ ${CLEANUP:-1} == 0 ]] && exit 0
echo "== cleanup of $ORPHANS orphans out of $DOCS documents, first snapshot ever"
cleanup_case "$WORK/c" 0
echo "== the same with last night's snapshot in the repository"
cleanup_case "$WORK/c" 1
