#!/usr/bin/env bash
# benchmarks/snapshot_vs_tar.sh — `maestro-db snap` against `tar | zstd -3 -T0`
# on one demo install (issue 3 point 10). Prints times, ratios and peak RSS.
#
#   benchmarks/snapshot_vs_tar.sh [--size-mib N] [--work-dir DIR] [--maestro-db PATH]
#
# Scenarios:
#   create    snap create (fresh repository)  vs  tar -cf - ROOT | zstd -3 -T0 > x.tar.zst
#   create2   second snap create, nothing changed, vs the first create
#   restore   snap restore latest --to DIR    vs  zstd -d < x.tar.zst | tar -x -C DIR
# Goals: create <= 1.3x tar|zstd, create2 < 10% of create, restore <= 1.3x.
# The page cache is not dropped (not root); both sides read warm files.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
SIZE_MIB=${SIZE_MIB:-1024}
WORK=${WORK_DIR:-/tmp/maestro-snapbench}
BIN=${MAESTRO_DB:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --work-dir) WORK=$2; shift 2 ;;
    --maestro-db) BIN=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "snapshot_vs_tar.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $BIN ]]; then
  BIN=$SRC/build-snapbench/cli/maestro-db
  cmake -S "$SRC" -B "$SRC/build-snapbench" -DCMAKE_BUILD_TYPE=Release -DMAESTRO_DB_BUILD_TESTS=OFF \
    -DMAESTRO_DB_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$SRC/build-snapbench" -j2 --target maestro-db >/dev/null
fi
[[ -x $BIN ]] || BIN=$(find "$SRC/build-snapbench" -name maestro-db -type f -perm -u+x | head -1)
command -v zstd >/dev/null || { echo "zstd is not installed (apt-get install zstd)" >&2; exit 1; }

mkdir -p "$WORK"
ROOT=$WORK/install-$SIZE_MIB
if [[ ! -d $ROOT ]]; then
  docs=$(( SIZE_MIB * 4 ))
  "$BIN" -q demo create "$ROOT" --documents "$docs" --target-bytes $(( SIZE_MIB * 1024 * 1024 )) --seed 1 >/dev/null
fi
sleep 2  # databases younger than 2 s are not fingerprinted (docs/repository-format.md)
DATA_BYTES=$(du -sb "$ROOT" | cut -f1)

# run NAME CMD...: wall seconds and peak RSS (KiB) of CMD into $T and $RSS
run() {
  local out
  out=$( { /usr/bin/time -f '%e %M' "$@" >/dev/null; } 2>&1 | tail -1)
  T=${out% *}
  RSS=${out#* }
}
# shell pipelines are timed as a whole (peak RSS = the largest process)
runsh() { run bash -c "$1"; }

REPO=$WORK/repo
# Warm the page cache so that the first tool timed does not pay for reading cold
# files the others then find cached (the comment above: both sides read warm files).
tar -C "$ROOT" -cf - . >/dev/null
rm -rf "$REPO" "$WORK/restore" "$WORK/untar" "$WORK/x.tar.zst"

run "$BIN" -q --root "$ROOT" --repo "$REPO" snap create --label bench
T_SNAP=$T; R_SNAP=$RSS
run "$BIN" -q --root "$ROOT" --repo "$REPO" snap create --label bench2
T_SNAP2=$T; R_SNAP2=$RSS
runsh "tar -C '$ROOT' -cf - . | zstd -3 -T0 -q -o '$WORK/x.tar.zst'"
T_TAR=$T; R_TAR=$RSS
run "$BIN" -q --root "$ROOT" --repo "$REPO" snap restore latest --to "$WORK/restore"
T_REST=$T; R_REST=$RSS
mkdir -p "$WORK/untar"
runsh "zstd -d -q -c '$WORK/x.tar.zst' | tar -C '$WORK/untar' -xf -"
T_UNTAR=$T; R_UNTAR=$RSS

REPO_BYTES=$(du -sb "$REPO" | cut -f1)
TAR_BYTES=$(stat -c %s "$WORK/x.tar.zst")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
cat <<REPORT
machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)
data: $ROOT ($(( DATA_BYTES / 1048576 )) MiB)

| scenario | maestro-db s | peak RSS MiB | tar/zstd s | peak RSS MiB | ratio | goal |
|---|---|---|---|---|---|---|
| create | $T_SNAP | $(( R_SNAP / 1024 )) | $T_TAR | $(( R_TAR / 1024 )) | $(ratio "$T_SNAP" "$T_TAR") | <= 1.3 |
| second create, unchanged | $T_SNAP2 | $(( R_SNAP2 / 1024 )) | (first create) $T_SNAP | | $(ratio "$T_SNAP2" "$T_SNAP") | < 0.10 |
| restore --to | $T_REST | $(( R_REST / 1024 )) | $T_UNTAR | $(( R_UNTAR / 1024 )) | $(ratio "$T_REST" "$T_UNTAR") | <= 1.3 |

repository: $(( REPO_BYTES / 1048576 )) MiB (2 snapshots); tar.zst: $(( TAR_BYTES / 1048576 )) MiB
REPORT
