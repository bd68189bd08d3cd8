#!/usr/bin/env bash
# benchmarks/encryption_cost.sh — what encryption adds to `snap create` (issue 15
# point 9: under 10% of its time). Times a first snapshot of one install into a
# fresh unencrypted and a fresh encrypted repository, alternating, RUNS times
# each, and prints wall, user+sys CPU (and each apart) and peak RSS per run, the
# medians, and the wall cost in % of plain's (of the medians, and the median of
# each round's own encrypted/plain pair, which drifting load moves less).
#
#   benchmarks/encryption_cost.sh ROOT [BINARY...]
#     RUNS=5 WORK_DIR=/tmp/maestro-encbench CACHE=warm JSON_OUT=FILE (optional)
#
# SCHEMES names the encrypted repositories to measure beside the plain one, as
# NAME=ARGS words (ARGS: `snap init --encrypt` options, commas for spaces);
# default "encrypted=" (the binary's default scheme). For example
#   SCHEMES="blake2-ids=--blob-ids,keyed-blake2b xxh3-ids= aes=--cipher,aes256gcm"
# Each round measures plain and every scheme in turn (alternating).
#
# CACHE: warm (the install is read once first: the CPU work encryption adds,
# which is what a busy machine pays), cold (before every run the install's files
# are dropped from the page cache with posix_fadvise(DONTNEED), after a sync:
# only this install's pages, not the machine's; create then reads from disk), or
# "warm cold" for both, one after the other. The repository is fresh each run.
#
# ROOT is a demo install (`maestro-db demo create DIR --target-bytes 1073741824 ...`,
# or the peer harness's demo-1024mib). Several binaries are measured (before/after
# a change), alternating round by round. The key is derived with small Argon2id
# limits so opening it is not measured (docs/encryption.md says what opening costs).
# JSON_OUT gets every run and the summaries (benchmarks/results/*.json).
set -euo pipefail
ROOT=${1:?usage: encryption_cost.sh ROOT [BINARY...]}; shift
BINS=("$@")
[[ ${#BINS[@]} -eq 0 ]] && BINS=("$(cd "$(dirname "$0")/.." && pwd)/build/maestro-db")
RUNS=${RUNS:-5}
WORK=${WORK_DIR:-/tmp/maestro-encbench}
read -r -a SCHEME_LIST <<<"${SCHEMES:-encrypted=}"
read -r -a CACHES <<<"${CACHE:-warm}"
mkdir -p "$WORK"
RUNS_TSV=$WORK/runs.tsv
: >"$RUNS_TSV"
unset MAESTRO_DB_PASSWORD MAESTRO_DB_PASSWORD_FILE  # a password set would make the "plain" repository encrypted

drop_install_from_cache() {
  python3 - "$ROOT" <<'EOF'
import os, sys
os.sync()
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        try:
            fd = os.open(os.path.join(d, f), os.O_RDONLY)
        except OSError:
            continue
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
EOF
}

# init_args MODE: the `snap init --encrypt` options of scheme MODE, one a line.
init_args() {
  local s
  for s in "${SCHEME_LIST[@]}"; do
    if [[ ${s%%=*} == "$1" && -n ${s#*=} ]]; then tr ',' '\n' <<<"${s#*=}"; fi
  done
}

# one_run BINARY CACHE MODE ROUND: one create, a line in runs.tsv and on stdout.
one_run() {
  local b=$1 cache=$2 mode=$3 r=$4 repo=$WORK/repo-$3 pw=() args=() w u s m c
  rm -rf "$repo"
  if [[ $mode != plain ]]; then
    mapfile -t args < <(init_args "$mode")
    pw=(env MAESTRO_DB_PASSWORD=encbench)
    "${pw[@]}" "$b" --repo "$repo" -q snap init --encrypt --kdf-ops 1 --kdf-mem-kib 8192 "${args[@]}" >/dev/null 2>&1
  fi
  if [[ $cache == cold ]]; then drop_install_from_cache; else tar -C "$ROOT" -cf - . >/dev/null; fi
  "${pw[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$b" --root "$ROOT" --repo "$repo" -q snap create >/dev/null
  read -r w u s m <"$WORK/time"
  c=$(echo "$u + $s" | bc)
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf '%-32s %-5s %-10s %-4s %8s %8s %8s %8s %8s %6s\n' "$(basename "$(dirname "$b")")/$(basename "$b")" "$cache" "$mode" "$r" "$w" "$c" "$u" "$s" "$((m / 1024))" "$load"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$cache" "$mode" "$r" "$w" "$c" "$u" "$s" "$((m / 1024))" "$load" >>"$RUNS_TSV"
}

echo "# uptime: $(uptime)"
printf '%-32s %-5s %-10s %-4s %8s %8s %8s %8s %8s %6s\n' binary cache repo run wall_s cpu_s user_s sys_s rss_mib load1
modes=(plain)
for s in "${SCHEME_LIST[@]}"; do modes+=("${s%%=*}"); done
# Binaries alternate too (round by round), so a change of load hits them alike.
for cache in "${CACHES[@]}"; do
  for ((r = 1; r <= RUNS; r++)); do
    for b in "${BINS[@]}"; do
      for mode in "${modes[@]}"; do one_run "$b" "$cache" "$mode" "$r"; done
    done
  done
done
echo "# uptime: $(uptime)"
rm -rf "$WORK"/repo-*

# Medians, costs in % of plain's, and the JSON (runs and summaries).
python3 - "$RUNS_TSV" "${JSON_OUT:-}" "$ROOT" "$(uptime)" <<'EOF'
import json, statistics, sys
tsv, out, root, up = sys.argv[1:5]
runs = []
for line in open(tsv):
    b, cache, mode, r, w, c, u, s, m, load = line.rstrip("\n").split("\t")
    runs.append(dict(binary=b, cache=cache, repo=mode, round=int(r), wall_s=float(w), cpu_s=float(c),
                     user_s=float(u), sys_s=float(s), rss_mib=int(m), load1=float(load)))
summary = []
for b in dict.fromkeys(x["binary"] for x in runs):
    for cache in dict.fromkeys(x["cache"] for x in runs if x["binary"] == b):
        sel = [x for x in runs if x["binary"] == b and x["cache"] == cache]
        med = lambda mode, k: statistics.median(x[k] for x in sel if x["repo"] == mode)
        plain = {k: med("plain", k) for k in ("wall_s", "cpu_s", "user_s", "sys_s")}
        for mode in dict.fromkeys(x["repo"] for x in sel):
            row = dict(binary=b, cache=cache, repo=mode, **{"median_" + k: med(mode, k) for k in plain})
            row["median_rss_mib"] = med(mode, "rss_mib")
            if mode != "plain":
                for k in ("wall_s", "cpu_s", "user_s"):
                    row["cost_pct_" + k.split("_")[0]] = round(100 * (row["median_" + k] / plain[k] - 1), 1)
                pairs = [e["wall_s"] / p["wall_s"] for p in sel if p["repo"] == "plain"
                         for e in sel if e["repo"] == mode and e["round"] == p["round"]]
                row["cost_pct_wall_paired_median"] = round(100 * (statistics.median(pairs) - 1), 1)
            summary.append(row)
            cost = "" if mode == "plain" else (
                f"  wall {row['cost_pct_wall']:+}% (paired {row['cost_pct_wall_paired_median']:+}%),"
                f" CPU {row['cost_pct_cpu']:+}%, user {row['cost_pct_user']:+}%")
            print(f"# {b} {cache} {mode}: median wall {row['median_wall_s']} s, CPU {row['median_cpu_s']} s,"
                  f" user {row['median_user_s']} s, sys {row['median_sys_s']} s{cost}")
if out:
    json.dump(dict(benchmark="encryption_cost", install=root, uptime_end=up, runs=runs, summary=summary),
              open(out, "w"), indent=1)
    print("# wrote " + out)
EOF
