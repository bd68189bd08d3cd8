#!/usr/bin/python3
"""benchmarks/peers/summary.py — the README's compact peer table from several run.sh reports.

Usage: summary.py LABEL=benchmarks/results/peers-<stamp>.json [LABEL=...]

Prints two Markdown tables: per profile and tool, the first snapshot, the repository
growth of an unchanged snapshot and of a 1% day, the full restore and the peak memory
(the largest of the tool's scenarios); then issue 14's goals (points 1-3, the thresholds
report.py's "[14]" rows use), one column per profile. Reads only what report.py wrote.
"""
import json
import sys

TOOLS = [("maestro", "maestro-db"), ("restic", "restic"), ("borg", "borg"), ("tarzstd", "tar\\|zstd")]


def fmt_bytes(b):
    if b is None:
        return "-"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if abs(b) >= 1 << shift:
            return f"{b / (1 << shift):.{2 if unit == 'GiB' else 1}f} {unit}"
    return f"{int(b)} B"


def cell(res, scen, tool, with_bytes):
    r = res.get((scen, tool))
    if not r or r["median_seconds"] is None:
        return "not run"
    text = f"{r['median_seconds']:.1f} s"
    return text + (", " + fmt_bytes(r["median_bytes"]) if with_bytes else "")


def peak(res, tool):
    rows = [(r["median_rss_kib"], scen) for (scen, t), r in res.items() if t == tool and r["median_rss_kib"]]
    if not rows:
        return "-"
    kib, scen = max(rows)
    return f"{kib / 1024:.0f} MiB ({scen})"


def med(res, scen, tool, key="median_seconds"):
    return (res.get((scen, tool)) or {}).get(key)


def verdict(ok):
    return "met" if ok else "**not met**"


def goal_full_vs_tar(res):
    m, t = med(res, "snap_full", "maestro"), med(res, "snap_full", "tarzstd")
    return "not run" if None in (m, t) else f"{m:.1f} s vs {t:.1f} s, {m / t:.2f}x: {verdict(m <= 0.7 * t)}"


def goal_full_vs_peers(res):
    m, r, b = (med(res, "snap_full", t) for t in ("maestro", "restic", "borg"))
    if None in (m, r, b):
        return "not run"
    return f"restic {r / m:.2f}x, borg {b / m:.2f}x: {verdict(min(r, b) >= 3.5 * m)}"


def goal_repo_size(res):
    m, t = med(res, "snap_full", "maestro", "median_bytes"), med(res, "snap_full", "tarzstd", "median_bytes")
    return "not run" if None in (m, t) else f"{(m / t - 1) * 100:+.2f}%: {verdict(m <= 1.02 * t)}"


def goal_restore(res):
    m, t = med(res, "restore_full", "maestro"), med(res, "restore_full", "tarzstd")
    return "not run" if None in (m, t) else f"{m:.1f} s vs {t:.1f} s, {m / t:.2f}x: {verdict(m <= 1.1 * t)}"


def goal_unchanged(res):
    u = med(res, "snap_unchanged", "maestro", "median_bytes")
    return "not run" if u is None else f"{fmt_bytes(u)}: {verdict(u < 1024)}"


def goal_memory(res):
    rows = [(r["median_rss_kib"], s) for (s, t), r in res.items() if t == "maestro" and r["median_rss_kib"]]
    if not rows:
        return "not run"
    kib, scen = max(rows)
    return f"{kib / 1024:.0f} MiB ({scen}): {verdict(kib < 64 * 1024)}"


GOALS = [
    ("first snapshot at most 0.7x of tar\\|zstd", goal_full_vs_tar),
    ("first snapshot at least 3.5x faster than restic and borg", goal_full_vs_peers),
    ("repository at most 2% larger than tar\\|zstd's", goal_repo_size),
    ("full restore at most 1.1x of `zstd -d \\| tar -x`", goal_restore),
    ("unchanged snapshot adds under 1 KiB", goal_unchanged),
    ("peak RSS under 64 MiB in every scenario run", goal_memory),
]


def main(args):
    reports = []
    for a in args:
        label, _, path = a.partition("=")
        doc = json.load(open(path))
        res = {(r["scenario"], r["tool"]): r for r in doc["results"]}
        reports.append((label, path, doc, res))
    print("| profile | tool | first snapshot: time, repository | unchanged snapshot: time, growth "
          "| 1% day: time, growth | full restore | peak RSS (largest scenario) |")
    print("|---|---|---|---|---|---|---|")
    for label, _, doc, res in reports:
        partial = "" if doc.get("status", "complete") == "complete" else " (partial)"
        for tool, name in TOOLS:
            if not any(t == tool for _, t in res):
                continue
            print(f"| {label}{partial} | {name} | {cell(res, 'snap_full', tool, True)} "
                  f"| {cell(res, 'snap_unchanged', tool, True)} | {cell(res, 'snap_changed_1pct', tool, True)} "
                  f"| {cell(res, 'restore_full', tool, False)} | {peak(res, tool)} |")
    print()
    print("| issue 14 goal | " + " | ".join(label for label, *_ in reports) + " |")
    print("|---|" + "---|" * len(reports))
    for name, fn in GOALS:
        print(f"| {name} | " + " | ".join(fn(res) for *_, res in reports) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
