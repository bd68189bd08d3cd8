#!/usr/bin/env python3
"""benchmarks/remote/report.py — the table and JSON of benchmarks/remote/run.sh.

Reads the TSV run.sh writes (scenario, run, seconds, peak RSS KiB, bytes,
status), takes the median of each scenario's successful runs, checks issue 15
point 9's goals and writes a markdown table and a JSON document.
"""
import argparse
import json
import statistics

SCENARIOS = [
    ("create_plain", "maestro-db `snap create`, local repository, plain"),
    ("create_encrypted", "maestro-db `snap create`, local repository, encrypted (default key: Argon2id 3 x 64 MiB)"),
    ("open_encrypted", "maestro-db `snap list` of that encrypted repository (opening its key)"),
    ("create_encrypted_fastkdf", "maestro-db `snap create`, local repository, encrypted, key of Argon2id 1 x 8 KiB"),
    ("copy_first", "maestro-db `snap copy --all --to rclone:sftp`, first"),
    ("copy_unchanged", "maestro-db `snap copy --all --to rclone:sftp`, unchanged second"),
    ("rclone_copy", "`rclone copy` of the repository folder (the floor)"),
    ("restic_first", "`restic -r rclone:sftp backup`, first"),
    ("restic_unchanged", "`restic -r rclone:sftp backup`, unchanged second"),
]
MAESTRO = {"create_plain", "create_encrypted", "open_encrypted", "create_encrypted_fastkdf", "copy_first",
           "copy_unchanged"}


def read_tsv(path):
    rows = {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 6:
                continue
            scen, run, secs, rss, nbytes, status = p[:6]
            rows.setdefault(scen, []).append(
                {"run": int(run), "seconds": float(secs or 0), "peak_rss_kib": int(rss or 0),
                 "bytes": int(nbytes or 0), "status": status})
    return rows


def summarize(runs):
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return {"runs": runs, "ok": 0, "failed": runs[-1]["status"] if runs else "not run"}
    return {"runs": runs, "ok": len(ok),
            "seconds": statistics.median(r["seconds"] for r in ok),
            "peak_rss_kib": max(r["peak_rss_kib"] for r in ok),
            "bytes": statistics.median(r["bytes"] for r in ok)}


def human_bytes(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


def goals(s):
    def sec(k):
        return s.get(k, {}).get("seconds")
    out = []

    def add(text, value, met):
        out.append({"goal": text, "measured": value, "met": met})
    c, r, rs = sec("copy_first"), sec("rclone_copy"), sec("restic_first")
    if c and r:
        add("snap copy within 1.2x of rclone copy", f"{c:.2f} s vs {r:.2f} s: {c / r:.2f}x", c <= 1.2 * r)
    if c and rs:
        add("snap copy at least 2x faster than restic backup", f"{c:.2f} s vs {rs:.2f} s: {rs / c:.2f}x", rs >= 2 * c)
    u = sec("copy_unchanged")
    if u is not None:
        add("unchanged second copy under 1 s", f"{u:.2f} s", u < 1.0)
    p, e = sec("create_plain"), sec("create_encrypted")
    if p and e:
        add("encryption costs under 10% of snap create time", f"{e:.2f} s vs {p:.2f} s: {100 * (e - p) / p:+.1f}%",
            e < 1.1 * p)
    o, f = sec("open_encrypted"), sec("create_encrypted_fastkdf")
    if p and o is not None:
        # Not a goal of its own: says how much of the cost above is opening the key, once per command.
        add("(of which: opening the default key, `snap list`, once per command)", f"{o:.2f} s", None)
    if p and f:
        add("(the per-byte part: snap create with a key of Argon2id 1 x 8 KiB)",
            f"{f:.2f} s vs {p:.2f} s: {100 * (f - p) / p:+.1f}%", f < 1.1 * p)
    rss = [s[k]["peak_rss_kib"] for k in MAESTRO if k in s and s[k].get("ok")]
    if rss:
        add("peak memory under 128 MiB (maestro-db commands)", f"{max(rss) / 1024:.0f} MiB", max(rss) < 128 * 1024)
    return out


def main():
    ap = argparse.ArgumentParser()
    for a in ("--tsv", "--machine", "--command", "--md", "--json"):
        ap.add_argument(a, required=True)
    ap.add_argument("--runs", type=int, required=True)
    a = ap.parse_args()
    rows = read_tsv(a.tsv)
    s = {k: summarize(rows[k]) for k, _ in SCENARIOS if k in rows}
    g = goals(s)
    machine = open(a.machine).read().strip().splitlines()
    md = [f"# maestro-db remote copy benchmark", "", f"command: `{a.command}`", ""]
    md += [f"- {m}" for m in machine]
    md += ["", f"Medians of {a.runs} run(s); peak RSS is the largest process of the command's tree "
           "(the rclone child counts), the largest over the runs; bytes: the repository (creates) or "
           "the server's folder (uploads).", "",
           "| scenario | time | peak RSS | bytes | runs ok |", "|---|---|---|---|---|"]
    for k, label in SCENARIOS:
        if k not in s:
            continue
        v = s[k]
        if not v["ok"]:
            md.append(f"| {label} | {v['failed']} | | | 0/{len(v['runs'])} |")
            continue
        md.append(f"| {label} | {v['seconds']:.2f} s | {v['peak_rss_kib'] / 1024:.0f} MiB | "
                  f"{human_bytes(v['bytes'])} | {v['ok']}/{len(v['runs'])} |")
    md += ["", "| goal (issue 15 point 9) | measured | met |", "|---|---|---|"]
    md += [f"| {x['goal']} | {x['measured']} | {'' if x['met'] is None else 'yes' if x['met'] else '**no**'} |"
           for x in g]
    with open(a.md, "w") as f:
        f.write("\n".join(md) + "\n")
    with open(a.json, "w") as f:
        json.dump({"command": a.command, "machine": machine, "runs": a.runs, "scenarios": s, "goals": g}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
