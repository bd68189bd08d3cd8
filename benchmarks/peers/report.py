#!/usr/bin/python3
"""benchmarks/peers/report.py — turns run.sh's measurements into Markdown and JSON.

Input TSV columns: tool, scenario, run, seconds, peak RSS KiB, bytes, status
("ok" or "failed: ..."). Medians are over the ok runs. Every ratio is
peer / maestro-db: above 1 means maestro-db is faster (or smaller).
"""
import argparse
import json
import statistics

SCENARIOS = [
    ("snap_full", "full snapshot (first backup)", "repository bytes"),
    ("snap_unchanged", "second snapshot, nothing changed", "repository growth"),
    ("snap_changed_1pct", "second snapshot after one day (~1% changed)", "repository growth"),
    ("restore_full", "full restore to an empty folder", "bytes restored"),
    ("restore_main", "single-store restore (main only)", "bytes restored"),
    ("verify_read_data", "verify, full data read", "repository bytes"),
    ("prune", "prune to the last 3 of 10 daily snapshots", "repository bytes after"),
    ("copy_main_backup", "sqlite3 .backup of main (floor for a consistent copy)", "bytes written"),
]
TOOLS = ["maestro", "restic", "borg", "tarzstd", "sqlite3"]
NAMES = {"maestro": "maestro-db", "restic": "restic", "borg": "borg", "tarzstd": "tar\\|zstd", "sqlite3": "sqlite3 .backup"}


def load(path):
    rows = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 7:
            continue
        tool, scen, run, secs, rss, nbytes, status = f[:7]
        rows.append({"tool": tool, "scenario": scen, "run": int(run),
                     "seconds": float(secs) if secs else None, "rss_kib": int(rss) if rss else None,
                     "bytes": int(nbytes) if nbytes else None, "status": status})
    return rows


def summarize(rows):
    out = {}
    for r in rows:
        out.setdefault((r["scenario"], r["tool"]), []).append(r)
    res = {}
    for key, rs in out.items():
        ok = [r for r in rs if r["status"] == "ok"]
        fails = sorted({r["status"] for r in rs if r["status"] != "ok"})
        med = lambda k: statistics.median([r[k] for r in ok]) if ok else None
        res[key] = {"runs": rs, "ok_runs": len(ok), "failures": fails,
                    "median_seconds": med("seconds"), "median_rss_kib": med("rss_kib"), "median_bytes": med("bytes")}
    return res


def fmt_bytes(b):
    if b is None:
        return "-"
    if abs(b) >= 1 << 30:
        return f"{b / (1 << 30):.2f} GiB"
    if abs(b) >= 1 << 20:
        return f"{b / (1 << 20):.1f} MiB"
    if abs(b) >= 1 << 10:
        return f"{b / (1 << 10):.1f} KiB"
    return f"{int(b)} B"


def sec(x):
    """A peer's median time for the goals table; "not run" when it has none (a partial report)."""
    return "not run" if x is None else f"{x} s"


def ratio(peer, base):
    if peer is None or base is None or base == 0:
        return ""
    return f" ({peer / base:.2f}x)"


def goals(res):
    """The issue's goals, read against the medians. Returns (text, passed or None) rows."""
    g = lambda s, t, k: (res.get((s, t)) or {}).get(k)
    out = []

    def add(text, m, cond):
        out.append({"goal": text, "maestro": m, "met": cond})

    for scen, label in (("snap_full", "full snapshot"), ("restore_full", "full restore")):
        m, tz, rs, bg = (g(scen, t, "median_seconds") for t in ("maestro", "tarzstd", "restic", "borg"))
        add(f"{label} within 1.3x of tar|zstd", None if m is None else f"{m:.2f} s vs {sec(tz)}",
            None if m is None or tz is None else m <= 1.3 * tz)
        add(f"{label} at least 2x faster than restic and borg",
            None if m is None else f"{m:.2f} s vs restic {sec(rs)}, borg {sec(bg)}",
            None if None in (m, rs, bg) else 2 * m <= min(rs, bg))
    m, rs = g("snap_unchanged", "maestro", "median_seconds"), g("snap_unchanged", "restic", "median_seconds")
    add("unchanged second snapshot at least 3x faster than restic's", None if m is None else f"{m:.2f} s vs {sec(rs)}",
        None if None in (m, rs) else 3 * m <= rs)
    m, rs = g("snap_changed_1pct", "maestro", "median_bytes"), g("snap_changed_1pct", "restic", "median_bytes")
    add("after a 1% change, repository growth within 1.5x of restic's",
        None if m is None else f"{fmt_bytes(m)} vs {fmt_bytes(rs)}", None if None in (m, rs) else m <= 1.5 * rs)
    worst = []
    for scen, _, _ in SCENARIOS:
        m = g(scen, "maestro", "median_rss_kib")
        peers = [g(scen, t, "median_rss_kib") for t in ("restic", "borg")]
        if m is None or None in peers:
            continue
        if m >= min(peers):
            worst.append(f"{scen}: {m / 1024:.0f} MiB vs {min(peers) / 1024:.0f} MiB")
    compared = any(g(s, "maestro", "median_rss_kib") is not None for s, _, _ in SCENARIOS)
    top = max((g(s, "maestro", "median_rss_kib") or 0) for s, _, _ in SCENARIOS)
    add("peak memory below both peers in every scenario",
        "; ".join(worst) if worst else (f"max {top / 1024:.0f} MiB" if compared else None),
        (not worst) if compared else None)
    goals_issue14(g, add)
    return out


def goals_issue14(g, add):
    """Issue 14's goals (repository at scale), on either profile."""
    m, tz, rs, bg = (g("snap_full", t, "median_seconds") for t in ("maestro", "tarzstd", "restic", "borg"))
    add("[14] first snapshot at most 0.7x of tar|zstd", None if m is None else f"{m:.2f} s vs {sec(tz)}",
        None if None in (m, tz) else m <= 0.7 * tz)
    add("[14] first snapshot at least 3.5x faster than restic and borg",
        None if m is None else f"{m:.2f} s vs restic {sec(rs)}, borg {sec(bg)}",
        None if None in (m, rs, bg) else 3.5 * m <= min(rs, bg))
    mb, tb = g("snap_full", "maestro", "median_bytes"), g("snap_full", "tarzstd", "median_bytes")
    add("[14] first repository no more than 2% larger than tar|zstd's",
        None if mb is None else f"{fmt_bytes(mb)} vs {fmt_bytes(tb)}", None if None in (mb, tb) else mb <= 1.02 * tb)
    m, tz = g("restore_full", "maestro", "median_seconds"), g("restore_full", "tarzstd", "median_seconds")
    add("[14] full restore at most 1.1x of zstd -d | tar -x", None if m is None else f"{m:.2f} s vs {sec(tz)}",
        None if None in (m, tz) else m <= 1.1 * tz)
    u = g("snap_unchanged", "maestro", "median_bytes")
    add("[14] an unchanged snapshot adds under 1 KiB", None if u is None else fmt_bytes(u),
        None if u is None else u < 1024)
    top = [g(sc, "maestro", "median_rss_kib") for sc, _, _ in SCENARIOS]
    top = [t for t in top if t is not None]
    add("[14] peak memory under 64 MiB in every scenario", f"max {max(top) / 1024:.0f} MiB" if top else None,
        (max(top) < 64 * 1024) if top else None)


def main():
    ap = argparse.ArgumentParser()
    for a in ("tsv", "header", "machine", "check", "command", "md", "json", "cache"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--size-mib", type=int, required=True)
    ap.add_argument("--profile", default="size")
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--status", default="complete",
                    help='"complete", or "partial: ..." while run.sh is still going or after it stopped')
    a = ap.parse_args()
    rows = load(a.tsv)
    res = summarize(rows)
    header = open(a.header).read().strip()
    machine = open(a.machine).read().strip()
    check = open(a.check).read().strip()
    gl = goals(res)

    what = f"{a.size_mib} MiB demo install" if a.profile == "size" else f"{a.size_mib} MiB demo install ({a.profile})"
    md = [f"### Peer comparison: {what}, {a.runs} runs, {a.cache} page cache", ""]
    if a.status != "complete":
        md += [f"**Partial results ({a.status}).** The rows below are the measurements that finished; a scenario or tool missing from them did not run.", ""]
    md += ["Command: `" + a.command + "`", ""]
    md += ["```", header, "```", "", "Machine:", "", "```", machine, "```", ""]
    md += ["Medians over the runs that succeeded. In parentheses: the peer's value divided by maestro-db's "
           "(above 1.00x: maestro-db is faster / smaller). Peak RSS is that of the largest single process "
           "(/usr/bin/time %M).", ""]
    md += ["| scenario | tool | time | peak RSS | bytes | bytes mean | runs ok |", "|---|---|---|---|---|---|---|"]
    for scen, label, bytes_label in SCENARIOS:
        base = res.get((scen, "maestro"), {})
        for tool in TOOLS:
            r = res.get((scen, tool))
            if not r:
                continue
            if r["ok_runs"] == 0:
                md.append(f"| {label} | {NAMES[tool]} | {'; '.join(r['failures'])} | | | | 0/{len(r['runs'])} |")
                continue
            is_base = tool == "maestro"
            t, m, b = r["median_seconds"], r["median_rss_kib"], r["median_bytes"]
            tcell = f"{t:.2f} s" + ("" if is_base else ratio(t, base.get("median_seconds")))
            mcell = f"{m / 1024:.0f} MiB" + ("" if is_base else ratio(m, base.get("median_rss_kib")))
            bcell = fmt_bytes(b) + ("" if is_base or scen.startswith("restore") else ratio(b, base.get("median_bytes")))
            note = "" if not r["failures"] else " (" + "; ".join(r["failures"]) + ")"
            md.append(f"| {label} | {NAMES[tool]} | {tcell} | {mcell} | {bcell} | {bytes_label} | "
                      f"{r['ok_runs']}/{len(r['runs'])}{note} |")
    md += ["", "Goals (read against the medians above):", "", "| goal | maestro-db | met |", "|---|---|---|"]
    for x in gl:
        met = "not measured" if x["met"] is None else ("yes" if x["met"] else "**no**")
        md.append(f"| {x['goal'].replace('|', chr(92) + '|')} | {x['maestro'] or ''} | {met} |")
    md += ["", "`check` on 100,000 documents / 1,000,000 chunks (benchmarks/check_vs_sqlite3.sh):", "", "```", check, "```", ""]
    text = "\n".join(md)
    open(a.md, "w").write(text)
    doc = {"status": a.status, "profile": a.profile, "size_mib": a.size_mib, "runs": a.runs, "page_cache": a.cache, "command": a.command,
           "header": header, "machine": machine, "check": check, "ratio_convention": "peer / maestro-db",
           "results": [{"scenario": s, "tool": t, **{k: v for k, v in r.items()}} for (s, t), r in sorted(res.items())],
           "goals": gl}
    json.dump(doc, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
