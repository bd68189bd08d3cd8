#!/bin/sh
# benchmarks/create_rss.sh — peak RSS (GNU time's "Maximum resident set size")
# of `snap create`, first and second (unchanged) snapshot, over an install of
# FILES small markdown files in folders of 100 (issue 14 point 2).
#
#   benchmarks/create_rss.sh BINARY WORKDIR [FILES]
#
# WORKDIR/root is generated once (kept for the next run); WORKDIR/repo is made
# anew each run. Prints one line per snapshot: files, seconds, peak RSS in KiB.
set -eu
bin=$1
work=$2
n=${3:-300000}
root=$work/root
md=$root/ai_researcher/data/processed/markdown
if [ ! -f "$work/.made-$n" ]; then
  rm -rf "$root"
  python3 - "$md" "$n" <<'PY'
import os, sys
md, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(md, "u%03d" % (i // 30000), "d%05d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "doc%07d.md" % i), "w") as f:
        f.write("# document %d\n\n%s\n" % (i, ("word%d " % (i * 7919 % 100003)) * (20 + i % 50)))
PY
  touch "$work/.made-$n"
fi
rm -rf "$work/repo"
for run in first second; do
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" --root "$root" --repo "$work/repo" -q snap create --label "$run" >/dev/null
  read -r secs kib <"$work/time.txt"
  echo "$run snapshot: $n files, $secs s, peak RSS $kib KiB"
done
