#!/usr/bin/env bash
# benchmarks/encryption_cost.sh — what encryption adds to `snap create` (issue 15
# point 9: under 10%). Times a first snapshot of one install into a fresh
# unencrypted and a fresh encrypted repository, alternating, RUNS times each, and
# prints wall, user+sys CPU (and each apart) and peak RSS per run and the medians'
# ratios. On a shared machine sys time swings with the page cache; user is steadier.
#
#   benchmarks/encryption_cost.sh ROOT [BINARY...]     # RUNS=3 WORK_DIR=/tmp/maestro-encbench
#
# SCHEMES names the encrypted repositories to measure beside the plain one, as
# NAME=ARGS words (ARGS: `snap init --encrypt` options, commas for spaces);
# default "encrypted=" (the binary's default scheme). For example
#   SCHEMES="blake2-ids=--blob-ids,keyed-blake2b xxh3-ids= aes=--cipher,aes256gcm"
# Each run measures plain and every scheme in turn (alternating).
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
read -r -a SCHEME_LIST <<<"${SCHEMES:-encrypted=}"
mkdir -p "$WORK"
unset MAESTRO_DB_PASSWORD MAESTRO_DB_PASSWORD_FILE  # a password set would make the "plain" repository encrypted
tar -C "$ROOT" -cf - . >/dev/null  # warm the page cache
echo "# uptime: $(uptime)"
printf '%-40s %-12s %-4s %8s %8s %8s %8s %8s\n' binary repo run wall_s cpu_s user_s sys_s rss_mib
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for b in "${BINS[@]}"; do
  declare -A wall=() cpu=() user=()
  modes=(plain)
  for s in "${SCHEME_LIST[@]}"; do modes+=("${s%%=*}"); done
  for ((r = 1; r <= RUNS; r++)); do
    for mode in "${modes[@]}"; do
      repo=$WORK/repo-$mode
      rm -rf "$repo"
      pw=()
      if [[ $mode != plain ]]; then
        args=()
        for s in "${SCHEME_LIST[@]}"; do
          if [[ ${s%%=*} == "$mode" && -n ${s#*=} ]]; then IFS=, read -r -a args <<<"${s#*=}"; fi
        done
        pw=(env MAESTRO_DB_PASSWORD=encbench)
        "${pw[@]}" "$b" --repo "$repo" -q snap init --encrypt --kdf-ops 1 --kdf-mem-kib 8192 "${args[@]}" >/dev/null 2>&1
      fi
      "${pw[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$b" --root "$ROOT" --repo "$repo" -q snap create >/dev/null
      read -r w u s m <"$WORK/time"
      c=$(echo "$u + $s" | bc)
      printf '%-40s %-12s %-4s %8s %8s %8s %8s %8s\n' "$(basename "$(dirname "$b")")/$(basename "$b")" "$mode" "$r" "$w" "$c" "$u" "$s" "$((m / 1024))"
      wall[$mode]+="$w "; cpu[$mode]+="$c "; user[$mode]+="$u "
    done
  done
  pw=$(med "${wall[plain]}"); pc=$(med "${cpu[plain]}"); pu=$(med "${user[plain]}")
  echo "# $b: median wall plain $pw s, CPU $pc s, user $pu s"
  for mode in "${modes[@]:1}"; do
    ew=$(med "${wall[$mode]}"); ec=$(med "${cpu[$mode]}"); eu=$(med "${user[$mode]}")
    echo "# $b: $mode: median wall $ew s (x$(echo "scale=3; $ew / $pw" | bc)), CPU $ec s (x$(echo "scale=3; $ec / $pc" | bc)), user $eu s (x$(echo "scale=3; $eu / $pu" | bc))"
  done
  unset wall cpu user
done
rm -rf "$WORK"/repo-*
