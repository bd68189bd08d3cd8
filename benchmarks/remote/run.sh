#!/usr/bin/env bash
# benchmarks/remote/run.sh — `snap copy` to an SFTP remote on loopback against
# restic backing up the same install to the same server, with `rclone copy` of
# the repository folder as the floor (issue 15 point 9). See benchmarks/README.md
# "## Remote copy".
#
#   benchmarks/remote/run.sh                      # 1 GiB demo install, 3 runs
#   SIZE_MIB=256 RUNS=1 benchmarks/remote/run.sh  # quicker
#   benchmarks/remote/run.sh --size-mib 1024 --runs 3 --work-dir /tmp/x
#
# Environment / flags:
#   SIZE_MIB  (--size-mib)  demo install size, MiB                    [1024]
#   RUNS      (--runs)      runs of every scenario (medians reported) [3]
#   WORK_DIR  (--work-dir)  demo install, repositories, the server's files, keys
#                           [/tmp/maestro-remotebench]
#   COLD=1    (--cold)      drop the page cache before every timed command (root only;
#                           slows every other process on the machine) [warm]
#   NO_INSTALL=1 (--no-install)  never apt-get install what is missing
#   MAESTRO_DB   a maestro-db binary [build/maestro-db, else built in build-remotebench/]
#   RESULTS_DIR  where remote-<UTC time>.md / .json go  [benchmarks/results]
#
# Everything runs on 127.0.0.1: sshd on a free loopback port with a throwaway
# host key and user key (benchmarks/lib/loopback_sftp.sh), reached by rclone's
# sftp backend through RCLONE_CONFIG_BENCH_* variables only. The server (and
# every session it started) is stopped when the script exits, on failure too.
# Timed, each under /usr/bin/time -v (wall time, peak RSS of the largest process
# of the command's tree: rclone children count):
#   snap create into a local repository, plain and encrypted (encryption's cost),
#     encrypted twice: with the default key (one Argon2id run of 3 passes over
#     64 MiB to open it, a fixed cost per command) and with a key of 1 pass over
#     8 KiB (the per-byte cost alone: the cipher); and snap list of the default-
#     key repository (what opening it costs);
#   snap copy --all --to rclone:bench:... (first, then unchanged);
#   rclone copy of the plain repository folder (the floor);
#   restic -r rclone:bench:... backup of the install (first, then unchanged).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3   # Debian's stock python3: no pip packages are used

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
WORK=${WORK_DIR:-/tmp/maestro-remotebench}
COLD=${COLD:-0}
NO_INSTALL=${NO_INSTALL:-0}
RESULTS_DIR=${RESULTS_DIR:-$SRC/benchmarks/results}

while [[ $# -gt 0 ]]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --work-dir) WORK=$2; shift 2 ;;
    --cold) COLD=1; shift ;;
    --no-install) NO_INSTALL=1; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --size-mib must be a positive number, not \"$SIZE_MIB\"" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ && $RUNS -le 20 ]] || { echo "run.sh: --runs must be 1..20, not \"$RUNS\"" >&2; exit 2; }

log() { printf '[remotebench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# shellcheck source=../lib/loopback_sftp.sh
. "$SRC/benchmarks/lib/loopback_sftp.sh"
trap 'sftp_stop' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
ensure_tools() {
  local missing=()
  command -v restic >/dev/null || missing+=(restic)
  command -v rclone >/dev/null || missing+=(rclone)
  [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  [[ -x /usr/bin/time ]] || missing+=(time)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $NO_INSTALL == 1 ]]; then echo "run.sh: missing ${missing[*]} and --no-install given" >&2; exit 1; fi
  log "installing ${missing[*]} (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

ensure_maestro() {
  if [[ -z ${MAESTRO_DB:-} && -x $SRC/build/maestro-db ]]; then MAESTRO_DB=$SRC/build/maestro-db; fi
  if [[ -z ${MAESTRO_DB:-} ]]; then
    local b=$SRC/build-remotebench
    log "building maestro-db (Release) in $b"
    [[ -f $b/CMakeCache.txt ]] || cmake -S "$SRC" -B "$b" -DCMAKE_BUILD_TYPE=Release -DMAESTRO_DB_BUILD_TESTS=OFF >/dev/null
    cmake --build "$b" -j2 --target maestro-db >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log" >&2; exit 1; }
    MAESTRO_DB=$b/maestro-db
  fi
  MAESTRO_BUILT_FROM="$MAESTRO_DB (tree at $(git -C "$SRC" rev-parse --short HEAD)$(git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes'))"
}

# The same demo install as benchmarks/peers/run.sh's size profile (same flags, seed, time).
ensure_demo() {
  DATA=$WORK/demo-${SIZE_MIB}mib
  if [[ -f $DATA.done ]]; then log "reusing demo install $DATA"; return 0; fi
  rm -rf "$DATA"
  local docs=$((SIZE_MIB * 4 / 10)); ((docs < 20)) && docs=20
  local args=(--users 5 --documents "$docs" --chunks-per-doc 30 --chunk-bytes 800
              --target-bytes $((SIZE_MIB * 1024 * 1024)) --seed 42 --now 2025-06-01T00:00:00Z)
  log "creating demo install: maestro-db demo create ${args[*]}"
  "$MAESTRO_DB" -q demo create "$DATA" "${args[@]}" >/dev/null
  touch "$DATA.done"
}

# ---------------------------------------------------------------- measuring
drop_caches() {
  [[ $COLD == 1 ]] || return 0
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || { log "cannot drop the page cache (not root?): warm"; COLD=0; }
}

# measure SCENARIO RUN BYTES_DIR -- command...: wall s and peak RSS KiB from
# /usr/bin/time -v, then du -sb of BYTES_DIR (the server's folder for uploads,
# the repository for creates). A failing command is recorded with its last line.
measure() {
  local scen=$1 run=$2 dir=$3; shift 4
  local tf=$WORK/time.out errf=$WORK/cmd.err rc=0 status=ok
  drop_caches
  /usr/bin/time -v -o "$tf" "$@" >"$WORK/cmd.out" 2>"$errf" || rc=$?
  local secs rss bytes
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
  if [[ $rc -ne 0 ]]; then
    status="failed: exit $rc: $(grep -v '^\s*$' "$errf" | tail -1 | tr '\t' ' ' | cut -c1-160)"
    cp "$errf" "$WORK/failed-$scen-$run.err"
    log "$scen run $run FAILED ($status); command: $*"
  fi
  bytes=$(du -sb "$dir" 2>/dev/null | cut -f1 || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$run" "${secs:-0}" "${rss:-0}" "${bytes:-0}" "$status" >>"$TSV"
  log "$(printf '%-18s run %s: %7ss %7s KiB %12s B  %s' "$scen" "$run" "$secs" "$rss" "$bytes" "$status")"
}

# ---------------------------------------------------------------- main
mkdir -p "$WORK" "$RESULTS_DIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
TSV=$WORK/results-$STAMP.tsv
: >"$TSV"
ensure_tools
ensure_maestro
ensure_demo

SERVER=$WORK/server   # what the SFTP server writes: one folder per tool and run
: >"$WORK/rclone.conf"
export RCLONE_CONFIG=$WORK/rclone.conf   # the remote is RCLONE_CONFIG_BENCH_* only; no user config is read
sftp_start "$WORK/sshd" bench || exit 1
log "sshd on 127.0.0.1:$SFTP_PORT (pid $SFTP_PID)"
rclone lsd "bench:$WORK" >/dev/null || { echo "run.sh: rclone cannot reach the SFTP server" >&2; exit 1; }

export RESTIC_PASSWORD=remotebench RESTIC_CACHE_DIR=$WORK/cache/restic
PWFILE=$WORK/password
(umask 077 && echo remotebench >"$PWFILE")
LOAD_BEFORE=$(uptime)
for ((run = 1; run <= RUNS; run++)); do
  log "run $run/$RUNS"
  rm -rf "$WORK/repo-plain" "$WORK/repo-enc" "$WORK/repo-enc-fastkdf" "$SERVER" "$RESTIC_CACHE_DIR"
  mkdir -p "$SERVER"
  measure create_plain "$run" "$WORK/repo-plain" -- \
    "$MAESTRO_DB" --root "$DATA" --repo "$WORK/repo-plain" -q snap create --label bench
  "$MAESTRO_DB" --repo "$WORK/repo-enc" -q snap init --encrypt --password-file "$PWFILE" >/dev/null
  measure create_encrypted "$run" "$WORK/repo-enc" -- \
    "$MAESTRO_DB" --root "$DATA" --repo "$WORK/repo-enc" --password-file "$PWFILE" -q snap create --label bench
  measure open_encrypted "$run" "$WORK/repo-enc" -- \
    "$MAESTRO_DB" --repo "$WORK/repo-enc" --password-file "$PWFILE" -q snap list
  "$MAESTRO_DB" --repo "$WORK/repo-enc-fastkdf" -q snap init --encrypt --password-file "$PWFILE" \
    --kdf-ops 1 --kdf-mem-kib 8 >/dev/null 2>&1
  measure create_encrypted_fastkdf "$run" "$WORK/repo-enc-fastkdf" -- \
    "$MAESTRO_DB" --root "$DATA" --repo "$WORK/repo-enc-fastkdf" --password-file "$PWFILE" -q snap create --label bench

  # The three uploads take turns; the order rotates run by run.
  order=(maestro rclone restic)
  for ((i = 1; i < run; i++)); do order=("${order[@]:1}" "${order[0]}"); done
  for t in "${order[@]}"; do
    case $t in
      maestro)
        for scen in copy_first copy_unchanged; do
          measure "$scen" "$run" "$SERVER/maestro" -- \
            "$MAESTRO_DB" --repo "$WORK/repo-plain" -q snap copy --all --to "rclone:bench:$SERVER/maestro"
        done ;;
      rclone)
        measure rclone_copy "$run" "$SERVER/rclone" -- rclone copy "$WORK/repo-plain" "bench:$SERVER/rclone" ;;
      restic)
        restic -r "rclone:bench:$SERVER/restic" init -q >/dev/null
        for scen in restic_first restic_unchanged; do
          measure "$scen" "$run" "$SERVER/restic" -- \
            bash -c 'cd "$1" && restic -r "$2" backup --compression auto -q .' _ "$DATA" "rclone:bench:$SERVER/restic"
        done ;;
    esac
  done
done
LOAD_AFTER=$(uptime)

{
  echo "cpu: $(lscpu | sed -n 's/^Model name:\s*//p' | head -1), nproc $(nproc)"
  echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "maestro-db: $MAESTRO_BUILT_FROM"
  echo "rclone: $(rclone version | head -1)"
  echo "restic: $(restic version | head -1)"
  echo "sshd: $(ssh -V 2>&1)"
  echo "install: $(du -sb "$DATA" | cut -f1) bytes, $(find "$DATA" -type f | wc -l) files (maestro-db demo create, SIZE_MIB=$SIZE_MIB)"
  echo "page cache: $([[ $COLD == 1 ]] && echo "cold (dropped before every timed command)" || echo warm)"
  echo "uptime before: $LOAD_BEFORE"
  echo "uptime after: $LOAD_AFTER"
} >"$WORK/machine.txt"

OUT=$RESULTS_DIR/remote-$STAMP
"$PY" "$HERE/report.py" --tsv "$TSV" --machine "$WORK/machine.txt" --runs "$RUNS" \
  --command "SIZE_MIB=$SIZE_MIB RUNS=$RUNS$([[ $COLD == 1 ]] && echo ' COLD=1') benchmarks/remote/run.sh" \
  --md "$OUT.md" --json "$OUT.json"
cat "$OUT.md"
log "wrote $OUT.md and $OUT.json"
