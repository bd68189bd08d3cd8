#!/bin/bash
# firstsnap.sh ROUNDS: the peers harness's first-snapshot command for each tool
# (and maestro-db main vs this branch), cold page cache (drop_caches, as the
# harness), tools rotating each round. Prints one line a run.
set -u
MAIN=${MAIN:-./maestro-base}; BRANCH=${BRANCH:-./maestro-new}
# WORK: scratch (deleted at the end); DEMO: the harness's 1 GiB demo install;
# MAIN, BRANCH: the two maestro-db binaries. Run as root (drop_caches), under flock /work/bench/peers.lock.
W=${WORK:-/work/bench/create-speed/fs}; D=${DEMO:-/work/bench/create-speed/peers/demo-1024mib}
export RESTIC_PASSWORD=peerbench RESTIC_CACHE_DIR=$W/cache/restic
export BORG_BASE_DIR=$W/cache/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
tools=(main branch tarzstd restic borg)
for r in $(seq $1); do
  n=${#tools[@]}; rot=$(( (r - 1) % n ))
  order=("${tools[@]:$rot}" "${tools[@]:0:$rot}")
  for t in "${order[@]}"; do
    rm -rf $W/repo; mkdir -p $W/cache
    case $t in
      restic) restic -r $W/repo init -q >/dev/null ;;
      borg) borg init --encryption=none $W/repo ;;
      tarzstd) mkdir -p $W/repo ;;
    esac
    sync; echo 3 > /proc/sys/vm/drop_caches
    load=$(cut -d' ' -f1 /proc/loadavg)
    case $t in
      main) cmd="$MAIN --root $D --repo $W/repo -q snap create --label b" ;;
      branch) cmd="$BRANCH --root $D --repo $W/repo -q snap create --label b" ;;
      restic) cmd="sh -c 'cd $D && restic -r $W/repo backup --compression auto -q .'" ;;
      borg) cmd="sh -c 'cd $D && borg create --compression zstd,3 $W/repo::s1 .'" ;;
      tarzstd) cmd="sh -c 'tar -C $D -cf - . | zstd -3 -T0 -q -o $W/repo/s1.tar.zst'" ;;
    esac
    /usr/bin/time -f "round $r $t wall %e user %U sys %S rss %MKB load $load" sh -c "$cmd" >/dev/null 2>$W/err || { echo "$t failed"; cat $W/err; }
    tail -1 $W/err
    echo "bytes $(du -sb $W/repo | cut -f1)"
  done
done
rm -rf $W
