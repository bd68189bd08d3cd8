#!/usr/bin/env bash
# benchmarks/peers/run.sh — maestro-db against the tools a user would pick instead
# (restic, borgbackup, tar | zstd) on one demo install. The one entry point of
# the peer comparison; see benchmarks/README.md "## Peer comparison".
#
#   SIZE_MIB=1024 RUNS=3 benchmarks/peers/run.sh          # defaults shown
#   benchmarks/peers/run.sh --size-mib 256 --runs 3 --work-dir /tmp/x
#   PROFILE=many-files DOCS=30000 benchmarks/peers/run.sh  # the many-files profile
#
# Environment / flags:
#   PROFILE    (--profile)   "size": an install of SIZE_MIB, big raw PDFs  [size]
#                            "many-files": DOCS documents with small files (3 files each
#                            + the vector store), to measure per-file cost and metadata
#   DOCS       (--documents) documents in the many-files profile       [30000]
#   SIZE_MIB   (--size-mib)  demo install size, MiB (size profile)     [1024]
#   RUNS       (--runs)      runs per tool and scenario (median kept)  [3]
#   WORK_DIR   (--work-dir)  demo installs, repositories, scratch      [/tmp/maestro-peerbench]
#   TOOLS      (--tools)     subset of "maestro restic borg tarzstd"
#   SKIP_CHECK=1 (--skip-check)  do not run the 100k-document check scenario
#   NO_INSTALL=1 (--no-install)  never apt-get install missing peers
#   --prepare-only  install peers, build maestro-db, make the demo install, stop
#   MAESTRO_DB   path of a maestro-db binary (default: build it, Release, in build-peerbench/)
#   RESULTS_DIR  where peers-<date>.md / .json go            [benchmarks/results]
#
# The report is rewritten after every scenario and on exit: a run stopped part way
# (kill -TERM -- -PGID, Ctrl-C, a failure) leaves its finished rows there, marked partial.
# Each run starts from a fresh copy of the demo install and fresh repositories;
# within a phase the tools take turns, and the order rotates run by run.
# The page cache is dropped before every timed command when permitted (root).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3   # Debian's stock python3: no pip packages are used

SIZE_MIB=${SIZE_MIB:-1024}
PROFILE=${PROFILE:-size}
DOCS=${DOCS:-30000}
RUNS=${RUNS:-3}
WORK=${WORK_DIR:-/tmp/maestro-peerbench}
TOOLS=${TOOLS:-"maestro restic borg tarzstd"}
SKIP_CHECK=${SKIP_CHECK:-0}
NO_INSTALL=${NO_INSTALL:-0}
RESULTS_DIR=${RESULTS_DIR:-$SRC/benchmarks/results}
PRUNE_SNAPSHOTS=10   # snapshots in each repository before the prune scenario
KEEP=3
DAY_FRACTION=0.01    # "one simulated day": ~1% of the bytes
SMALL_FRACTION=0.001 # the small change between the daily snapshots of the prune scenario

while [[ $# -gt 0 ]]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    --documents) DOCS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --work-dir) WORK=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --skip-check) SKIP_CHECK=1; shift ;;
    --no-install) NO_INSTALL=1; shift ;;
    --prepare-only) PREPARE_ONLY=1; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case $PROFILE in
  size|many-files) ;;
  *) echo "run.sh: --profile must be size or many-files, not \"$PROFILE\"" >&2; exit 2 ;;
esac
[[ $DOCS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --documents must be a positive number, not \"$DOCS\"" >&2; exit 2; }

log() { printf '[peerbench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------- tools
ensure_peers() {
  local missing=()
  command -v restic >/dev/null || missing+=(restic)
  command -v borg >/dev/null || missing+=(borgbackup)
  command -v zstd >/dev/null || missing+=(zstd)
  [[ -x /usr/bin/time ]] || missing+=(time)
  command -v sqlite3 >/dev/null || missing+=(sqlite3)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $NO_INSTALL == 1 ]]; then echo "run.sh: missing ${missing[*]} and --no-install given" >&2; exit 1; fi
  log "installing ${missing[*]} (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

ensure_maestro() {
  if [[ -n ${MAESTRO_DB:-} ]]; then MAESTRO_BUILT_FROM="given binary $MAESTRO_DB (tree at $(git -C "$SRC" rev-parse --short HEAD)$(git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes'))"; return 0; fi
  local b=$SRC/build-peerbench
  log "building maestro-db (Release) in $b"
  if [[ ! -f $b/CMakeCache.txt ]]; then
    cmake -S "$SRC" -B "$b" -DCMAKE_BUILD_TYPE=Release -DMAESTRO_DB_BUILD_TESTS=OFF >/dev/null
  fi
  MAESTRO_DB=$b/maestro-db
  if cmake --build "$b" -j2 --target maestro-db >"$WORK/build.log" 2>&1; then
    MAESTRO_BUILT_FROM="working tree at $(git -C "$SRC" rev-parse --short HEAD)$(git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes')"
    return 0
  fi
  tail -5 "$WORK/build.log" >&2
  # A shared working tree can be mid-edit: build the last commit instead, from
  # `git archive HEAD` (read-only for the repository) in a directory of its own.
  local rev; rev=$(git -C "$SRC" rev-parse --short HEAD)
  log "working tree does not build; building commit $rev instead"
  rm -rf "$b/head-src" && mkdir -p "$b/head-src"
  git -C "$SRC" archive HEAD | tar -x -C "$b/head-src"
  cmake -S "$b/head-src" -B "$b/head-build" -DCMAKE_BUILD_TYPE=Release -DMAESTRO_DB_BUILD_TESTS=OFF >/dev/null
  cmake --build "$b/head-build" -j2 --target maestro-db >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log" >&2; exit 1; }
  MAESTRO_DB=$b/head-build/maestro-db
  MAESTRO_BUILT_FROM="commit $rev (git archive; the working tree did not build)"
}

maestro_has() {  # maestro_has "snap create" — does this build have the command?
  # (CLI11 answers an unknown subcommand's --help with the top-level help and exit 0,
  # so look for the subcommand in the usage line.)
  # shellcheck disable=SC2086
  "$MAESTRO_DB" $1 --help 2>/dev/null | grep -q "^Usage:.*\b${1##* }\b"
}

# ---------------------------------------------------------------- demo install
DATA0=
DEMO_GENERATOR=
# The many-files profile: 30,000 documents give ~78,000 files and ~1.2 GiB (about
# 385 MiB of raw PDFs, 220 MiB Markdown/JSON, 595 MiB vector store); 100,000 give
# ~260,000 files. Small raw files and 2 chunks per document and collection keep
# the per-file work (stat, open, metadata) the dominant cost.
ensure_demo_many_files() {
  DATA0=$WORK/demo-${DOCS}docs
  if [[ -f $DATA0.done ]]; then DEMO_GENERATOR=$(cat "$DATA0.done"); log "reusing demo install $DATA0 ($DEMO_GENERATOR)"; return 0; fi
  rm -rf "$DATA0"
  local args=(--users 5 --documents "$DOCS" --chunks-per-doc 2 --pdf-kib 12 --seed 42 --now 2025-06-01T00:00:00Z)
  DEMO_GENERATOR="maestro-db demo create ${args[*]}"
  log "creating demo install: $DEMO_GENERATOR"
  "$MAESTRO_DB" -q demo create "$DATA0" "${args[@]}" >/dev/null
  echo "$DEMO_GENERATOR" >"$DATA0.done"
}

ensure_demo() {
  if [[ $PROFILE == many-files ]]; then ensure_demo_many_files; return; fi
  DATA0=$WORK/demo-${SIZE_MIB}mib
  if [[ -f $DATA0.done ]]; then DEMO_GENERATOR=$(cat "$DATA0.done"); log "reusing demo install $DATA0 ($DEMO_GENERATOR)"; return 0; fi
  rm -rf "$DATA0"
  local bytes=$((SIZE_MIB * 1024 * 1024)) help
  help=$("$MAESTRO_DB" demo create --help 2>/dev/null || true)
  if grep -q -- '--target-bytes' <<<"$help"; then
    # ~0.4 documents per MiB: raw PDFs (~2 MiB each) take ~80% of the bytes, the
    # vector store (30 chunks per document and collection) ~16%, the rest ~4%.
    local docs=$((SIZE_MIB * 4 / 10)); ((docs < 20)) && docs=20
    local args=(--users 5 --documents "$docs" --chunks-per-doc 30 --chunk-bytes 800
                --target-bytes "$bytes" --seed 42 --now 2025-06-01T00:00:00Z)
    DEMO_GENERATOR="maestro-db demo create ${args[*]}"
    log "creating demo install: $DEMO_GENERATOR"
    "$MAESTRO_DB" -q demo create "$DATA0" "${args[@]}" >/dev/null
  else
    DEMO_GENERATOR="benchmarks/peers/gen_demo.py $bytes 42 (maestro-db demo create has no --target-bytes in this build)"
    log "creating demo install: $DEMO_GENERATOR"
    "$PY" "$HERE/gen_demo.py" "$DATA0" "$bytes" 42 "$SRC/migrations" >&2
  fi
  echo "$DEMO_GENERATOR" >"$DATA0.done"
}

main_relpath() {  # the main store's path inside an install, as the layout defines it
  local p
  for p in maestro_backend/data/maestro.db data/maestro.db; do
    [[ -e $1/$p ]] && { echo "$p"; return 0; }
  done
  echo maestro_backend/data/maestro.db
}

# ---------------------------------------------------------------- measuring
CACHE_MODE=warm
if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then CACHE_MODE=cold; fi
drop_caches() { [[ $CACHE_MODE == cold ]] && { sync; echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true; }

TSV=
# measure TOOL SCENARIO RUN BYTES_KIND -- command...
#   times the command (wall s, peak RSS KiB of the largest process), then records
#   bytes: "repo" = du -sb of the repository, "growth" = repository growth,
#   "target" = du -sb of $DEST. A failing command is recorded as failed: <last stderr line>.
measure() {
  local tool=$1 scen=$2 run=$3 kind=$4; shift 5
  local repo=$WORK/repos/$tool before=0 tf=$WORK/time.out errf=$WORK/cmd.err
  [[ $kind == growth ]] && before=$(du -sb "$repo" 2>/dev/null | cut -f1 || echo 0)
  drop_caches
  local rc=0
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$WORK/cmd.out" 2>"$errf" || rc=$?
  local secs rss status=ok bytes=
  read -r secs rss < <(tail -1 "$tf") || true
  if [[ $rc -ne 0 ]]; then
    status="failed: exit $rc: $(grep -v '^Command exited' "$errf" | grep -v '^\s*$' | tail -1 | tr '\t' ' ' | cut -c1-160)"
    log "$tool $scen run $run FAILED ($status); command: $*"
    cp "$errf" "$WORK/failed-$tool-$scen-$run.err"
  fi
  case $kind in
    repo) bytes=$(du -sb "$repo" 2>/dev/null | cut -f1 || echo 0) ;;
    growth) bytes=$(( $(du -sb "$repo" 2>/dev/null | cut -f1 || echo 0) - ${before:-0} )) ;;
    target) bytes=$(du -sb "$DEST" 2>/dev/null | cut -f1 || echo 0) ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$scen" "$run" "$secs" "$rss" "${bytes:-0}" "$status" >>"$TSV"
  log "$(printf '%-8s %-16s run %s: %6ss %7s KiB  %s B  %s' "$tool" "$scen" "$run" "$secs" "$rss" "${bytes:-0}" "$status")"
}

# ---------------------------------------------------------------- the tools' commands
# Every peer runs with the closest settings to maestro-db's: no encryption where the
# tool allows it, zstd level 3 class compression, one repository per tool and run.
export RESTIC_PASSWORD=peerbench RESTIC_CACHE_DIR=$WORK/cache/restic
export BORG_BASE_DIR=$WORK/cache/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
SETTINGS=(
  "maestro-db: snap create (zstd-3 blobs, stored raw when a 64 KiB zstd-1 trial saves under 3%, blobs of at most 64 KiB compressed together in groups of 128 KiB; XXH3-128 content addressing, no encryption); restore --to; verify --all --read-data; prune --keep-last $KEEP (ids are UTC seconds, so daily buckets would collapse)"
  "restic: --compression auto (zstd), repository format v2; restic ALWAYS encrypts (AES-256-CTR + Poly1305), it cannot be turned off; forget --keep-last $KEEP --prune; check --read-data"
  "borg: init --encryption=none; create --compression zstd,3; prune --keep-last $KEEP then compact; check --verify-data"
  "tar|zstd: tar -cf - . | zstd -3 -T0 (one full archive per snapshot, no dedup); restore zstd -d | tar -x; verify zstd -t (frame checksums only)"
)

snap_cmd() {  # snap_cmd TOOL N — prints nothing, runs the N-th snapshot of $DATA into the tool's repo
  local repo=$WORK/repos/$1
  case $1 in
    maestro) "$MAESTRO_DB" --root "$DATA" --repo "$repo" -q snap create --label "bench-$2" >/dev/null ;;
    restic) (cd "$DATA" && restic -r "$repo" backup --compression auto -q .) ;;
    borg) (cd "$DATA" && borg create --compression zstd,3 "$repo::s$2" .) ;;
    tarzstd) tar -C "$DATA" -cf - . | zstd -3 -T0 -q -o "$repo/s$2.tar.zst" ;;
  esac
}
init_repo() {
  local repo=$WORK/repos/$1
  rm -rf "$repo"
  case $1 in
    maestro) mkdir -p "$(dirname "$repo")" ;;  # snap create makes its repository
    restic) mkdir -p "$(dirname "$repo")"; restic -r "$repo" init -q >/dev/null ;;
    borg) mkdir -p "$(dirname "$repo")"; borg init --encryption=none "$repo" ;;
    tarzstd) mkdir -p "$repo" ;;
  esac
}
restore_cmd() {  # restore_cmd TOOL LAST_N all|main — into $DEST, which does not exist yet
  local repo=$WORK/repos/$1 what=$3 mainp
  mainp=$(main_relpath "$DATA")
  case $1 in
    maestro)
      if [[ $what == all ]]; then "$MAESTRO_DB" --repo "$repo" -q snap restore latest --to "$DEST" >/dev/null
      else "$MAESTRO_DB" --repo "$repo" -q snap restore latest --store main --to "$DEST" >/dev/null; fi ;;
    restic)
      if [[ $what == all ]]; then restic -r "$repo" -q restore latest --target "$DEST"
      else restic -r "$repo" -q restore latest --target "$DEST" --include "/$mainp"; fi ;;
    borg)
      mkdir -p "$DEST"
      if [[ $what == all ]]; then (cd "$DEST" && borg extract "$repo::s$2")
      else (cd "$DEST" && borg extract "$repo::s$2" "$mainp"); fi ;;
    tarzstd)
      mkdir -p "$DEST"
      if [[ $what == all ]]; then zstd -d -q -c "$repo/s$2.tar.zst" | tar -x -C "$DEST"
      else zstd -d -q -c "$repo/s$2.tar.zst" | tar -x -C "$DEST" "./$mainp"; fi ;;
  esac
}
verify_cmd() {
  local repo=$WORK/repos/$1
  case $1 in
    maestro) "$MAESTRO_DB" --repo "$repo" -q snap verify --all --read-data >/dev/null ;;
    restic) restic -r "$repo" -q check --read-data ;;
    borg) borg check --verify-data "$repo" ;;
    tarzstd) zstd -t -q "$repo"/*.tar.zst ;;
  esac
}
prune_cmd() {
  local repo=$WORK/repos/$1
  case $1 in
    maestro) "$MAESTRO_DB" --repo "$repo" -q snap prune --keep-last "$KEEP" >/dev/null ;;
    restic) restic -r "$repo" -q forget --keep-last "$KEEP" --prune >/dev/null ;;
    borg) borg prune --keep-last "$KEEP" "$repo" && borg compact "$repo" ;;
  esac
}
export -f snap_cmd init_repo restore_cmd verify_cmd prune_cmd main_relpath
export MAESTRO_DB WORK KEEP

# ---------------------------------------------------------------- main
mkdir -p "$WORK" "$RESULTS_DIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
TSV=$WORK/results-$STAMP.tsv
: >"$TSV"
ensure_peers
ensure_maestro
ensure_demo
[[ ${PREPARE_ONLY:-0} == 1 ]] && { log "prepared $DATA0"; exit 0; }

MAESTRO_MISSING=
for c in "snap create" "snap restore" "snap verify" "snap prune"; do
  maestro_has "$c" || MAESTRO_MISSING+="${MAESTRO_MISSING:+, }$c"
done
[[ -n $MAESTRO_MISSING ]] && log "this maestro-db build lacks: $MAESTRO_MISSING (its scenarios are recorded as failed)"

read -r -a TOOL_LIST <<<"$TOOLS"
{
  echo "# maestro-db peer benchmark $STAMP"
  echo "profile: $PROFILE$([[ $PROFILE == many-files ]] && echo " ($DOCS documents)")"
  echo "size: $(( $(du -sb "$DATA0" | cut -f1) / 1048576 )) MiB demo install ($(du -sb "$DATA0" | cut -f1) bytes, $(find "$DATA0" -type f | wc -l) files), runs: $RUNS, page cache: $CACHE_MODE"
  echo "demo: $DEMO_GENERATOR"
  echo "settings:"; printf '  - %s\n' "${SETTINGS[@]}"
} | tee "$WORK/header.txt" >&2

# Machine and versions.
{
  echo "cpu: $(lscpu | sed -n 's/^Model name:\s*//p' | head -1), nproc $(nproc)"
  echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "disk: $(df -h --output=source,fstype,size "$WORK" | tail -1 | tr -s ' ') ($(lsblk -dno NAME,ROTA,MODEL 2>/dev/null | grep -v zram | head -1 | tr -s ' ' | sed 's/ 0 / non-rotational /;s/ 1 / reported rotational /'))"
  echo "kernel: $(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "maestro-db: $MAESTRO_BUILT_FROM, Release"
  echo "restic: $(restic version | head -1)"
  echo "borg: $(borg --version)"
  echo "zstd: $(zstd --version)"
  echo "tar: $(tar --version | head -1)"
  echo "sqlite3: $(sqlite3 --version | cut -d' ' -f1-2)"
} >"$WORK/machine.txt"

# The report is rewritten after every scenario, so a run that is stopped (or
# fails) still leaves its finished scenarios in $OUT.md / $OUT.json, marked partial.
OUT=$RESULTS_DIR/peers-$STAMP
CHECK_OUT=$WORK/check-$STAMP.txt
echo "not run yet (the run stopped before it)" >"$CHECK_OUT"
if [[ $PROFILE == many-files ]]; then
  PROFILE_CMD="PROFILE=many-files DOCS=$DOCS"
  PROFILE_LABEL="many files: $DOCS documents, $(find "$DATA0" -type f | wc -l) files"
else
  PROFILE_CMD="SIZE_MIB=$SIZE_MIB"
  PROFILE_LABEL="size"
fi
DATA0_MIB=$(( $(du -sb "$DATA0" | cut -f1) / 1048576 ))
write_report() {  # write_report STATUS — "complete" or "partial: <what finished>"
  "$PY" "$HERE/report.py" --tsv "$TSV" --header "$WORK/header.txt" --machine "$WORK/machine.txt" \
    --check "$CHECK_OUT" --command "$PROFILE_CMD RUNS=$RUNS TOOLS='$TOOLS' benchmarks/peers/run.sh" \
    --profile "$PROFILE_LABEL" --size-mib "$DATA0_MIB" --runs "$RUNS" --cache "$CACHE_MODE" \
    --status "$1" --md "$OUT.md" --json "$OUT.json"
}
LAST_DONE="no scenario finished"
on_exit() {
  local rc=$?
  write_report "partial: the run stopped (exit $rc) after $LAST_DONE" || true
  log "stopped; partial results in $OUT.md and $OUT.json"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DATA=$WORK/data DEST=$WORK/restore
for ((run = 1; run <= RUNS; run++)); do
  # Rotate the order so no tool always runs first (or right after a cache-warming peer).
  order=()
  for ((i = 0; i < ${#TOOL_LIST[@]}; i++)); do order+=("${TOOL_LIST[$(((i + run - 1) % ${#TOOL_LIST[@]}))]}"); done
  log "run $run/$RUNS, order: ${order[*]}"
  rm -rf "$DATA" "$DEST"
  cp -a "$DATA0" "$DATA"
  # The copy is brand new: maestro-db does not trust a database fingerprint whose
  # timestamps are under 2 s old (racy timestamps; docs/repository-format.md), so
  # the unchanged second snapshot would re-read every database. Untimed.
  sleep 2
  for t in "${order[@]}"; do init_repo "$t"; done

  phase() {  # phase SCENARIO BYTES_KIND CMD... (CMD gets the tool as $1 via bash -c)
    local scen=$1 kind=$2 fn=$3; shift 3
    for t in "${order[@]}"; do
      [[ $t == tarzstd && ( $scen == prune ) ]] && continue
      if [[ $t == maestro && -n $MAESTRO_MISSING ]]; then
        printf '%s\t%s\t%s\t\t\t\t%s\n' maestro "$scen" "$run" "failed: not in this build ($MAESTRO_MISSING)" >>"$TSV"; continue
      fi
      rm -rf "$DEST"
      measure "$t" "$scen" "$run" "$kind" -- bash -c "$fn \"\$@\"" _ "$t" "$@"
    done
    rm -rf "$DEST"
    LAST_DONE="$scen of run $run/$RUNS"
    write_report "partial: through $LAST_DONE" || log "could not write the partial report"
  }

  phase snap_full repo snap_cmd 1
  phase snap_unchanged growth snap_cmd 2
  "$PY" "$HERE/mutate_day.py" "$DATA" 1 "$DAY_FRACTION" >&2
  phase snap_changed_1pct growth snap_cmd 3
  phase restore_full target restore_cmd 3 all
  phase restore_main target restore_cmd 3 main
  phase verify_read_data repo verify_cmd
  # Daily snapshots 4..10 with a small change before each (not timed), then prune.
  for ((n = 4; n <= PRUNE_SNAPSHOTS; n++)); do
    "$PY" "$HERE/mutate_day.py" "$DATA" "$n" "$SMALL_FRACTION" >/dev/null
    for t in "${order[@]}"; do
      [[ $t == tarzstd ]] && continue
      [[ $t == maestro && -n $MAESTRO_MISSING ]] && continue
      snap_cmd "$t" "$n" >/dev/null 2>"$WORK/daily.err" || log "$t daily snapshot $n failed: $(tail -1 "$WORK/daily.err")"
    done
  done
  phase prune repo prune_cmd
done

# sqlite3 .backup: the floor for a consistent copy of the main database alone.
MAINP=$(main_relpath "$DATA0")
for ((run = 1; run <= RUNS; run++)); do
  rm -f "$WORK/main-copy.db"
  DEST=$WORK/main-copy.db measure sqlite3 copy_main_backup "$run" target -- sqlite3 "$DATA0/$MAINP" ".backup '$WORK/main-copy.db'"
done
rm -f "$WORK/main-copy.db"
LAST_DONE="copy_main_backup"

# check on 100,000 documents / 1,000,000 chunks: owned by benchmarks/check_vs_sqlite3.sh.
if [[ $SKIP_CHECK == 1 ]]; then
  echo "not run (--skip-check)" >"$CHECK_OUT"
elif [[ -x $SRC/benchmarks/check_vs_sqlite3.sh || -f $SRC/benchmarks/check_vs_sqlite3.sh ]]; then
  log "running benchmarks/check_vs_sqlite3.sh"
  MAESTRO_DB_BIN=$MAESTRO_DB timeout 900 bash "$SRC/benchmarks/check_vs_sqlite3.sh" >"$CHECK_OUT" 2>&1 ||
    echo "failed: benchmarks/check_vs_sqlite3.sh exited $?" >>"$CHECK_OUT"
else
  echo "not run: benchmarks/check_vs_sqlite3.sh does not exist yet" >"$CHECK_OUT"
fi

write_report complete
trap - EXIT
cat "$OUT.md"
log "wrote $OUT.md and $OUT.json"
