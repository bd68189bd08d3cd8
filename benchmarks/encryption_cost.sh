#!/usr/bin/env bash
# benchmarks/encryption_cost.sh — what encryption adds to `snap create` (issue 15
# point 9: under 10%). Times a first snapshot of one install into a fresh
# unencrypted and a fresh encrypted repository, alternating, RUNS times each, and
# prints wall, user+sys CPU and peak RSS per run and the medians' ratio.
#
#   benchmarks/encryption_cost.sh ROOT [BINARY...]     # RUNS=3 WORK_DIR=/tmp/maestro-encbench
#
# ROOT is a demo install (`maestro-db demo create DIR --target-bytes 1073741824 ...`,
# or the peer harness's demo-1024mib). Several binaries are measured in turn
# (before/after a change). The page cache is warm (the files are read once
# first): this measures the CPU work encryption adds, which is what a busy
# machine pays. The key is derived with small Argon2id limits so opening it is
# not measured (docs/encryption.md says what opening costs).
set -euo pipefail
ROOT=${1:?usage: encryption_cost.sh ROOT [BINARY...]}; shift
BINS=("$@")
[[ ${#BINS[@]} -eq 0 ]] && BINS=("$(cd "$(dirname "$0")/.." && pwd)/build/maestro-db")
RUNS=${RUNS:-3}
WORK=${WORK_DIR:-/tmp/maestro-encbench}
mkdir -p "$WORK"
unset MAESTRO_DB_PASSWORD MAESTRO_DB_PASSWORD_FILE  # a password set would make the "plain" repository encrypted
tar -C "$ROOT" -cf - . >/dev/null  # warm the page cache
echo "# uptime: $(uptime)"
printf '%-40s %-6s %-4s %8s %8s %8s\n' binary repo run wall_s cpu_s rss_mib
for b in "${BINS[@]}"; do
  declare -A wall=() cpu=()
  for ((r = 1; r <= RUNS; r++)); do
    for mode in plain encrypted; do
      repo=$WORK/repo-$mode
      rm -rf "$repo"
      pw=()
      if [[ $mode == encrypted ]]; then
        pw=(env MAESTRO_DB_PASSWORD=encbench)
        "${pw[@]}" "$b" --repo "$repo" -q snap init --encrypt --kdf-ops 1 --kdf-mem-kib 8192 >/dev/null
      fi
      "${pw[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$b" --root "$ROOT" --repo "$repo" -q snap create >/dev/null
      read -r w u s m <"$WORK/time"
      c=$(echo "$u + $s" | bc)
      printf '%-40s %-6s %-4s %8s %8s %8s\n' "$(basename "$(dirname "$b")")/$(basename "$b")" "$mode" "$r" "$w" "$c" "$((m / 1024))"
      wall[$mode]+="$w "; cpu[$mode]+="$c "
    done
  done
  med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  pw=$(med "${wall[plain]}"); ew=$(med "${wall[encrypted]}"); pc=$(med "${cpu[plain]}"); ec=$(med "${cpu[encrypted]}")
  echo "# $b: median wall plain $pw s, encrypted $ew s (x$(echo "scale=2; $ew / $pw" | bc)); median CPU plain $pc s, encrypted $ec s (x$(echo "scale=2; $ec / $pc" | bc))"
  unset wall cpu
done
rm -rf "$WORK"/repo-*
