#!/usr/bin/python3
"""benchmarks/meta_bytes.py REPO [INDEX_NAME...] — how many data and tree blobs,
and their stored bytes, the named (default: all) index files of an unencrypted
format-4 repository hold (docs/repository-format.md "Index v4"), and those
index files' own bytes: a snapshot's metadata is its tree blobs, its index
files and its manifest. Read-only."""
import os, struct, sys
repo = sys.argv[1]
names = sys.argv[2:] or sorted(os.listdir(os.path.join(repo, "index")))
tot = {0: [0, 0], 1: [0, 0]}
for n in names:
    b = open(os.path.join(repo, "index", n), "rb").read()
    assert b[:8] == b"MDBINDX\0", n
    ver, npacks = struct.unpack_from("<II", b, 8)
    assert ver == 4, (n, ver)
    o = 16
    for _ in range(npacks):
        o += 16
        pv, ne = struct.unpack_from("<BI", b, o); o += 5
        for _ in range(ne):
            off, stored, raw, chk, typ, codec = struct.unpack_from("<QIIQBB", b, o + 16)
            tot[typ][0] += 1; tot[typ][1] += stored
            o += 42
print("data blobs %d stored %d; tree blobs %d stored %d; index files %d bytes" % (
    tot[0][0], tot[0][1], tot[1][0], tot[1][1], sum(os.path.getsize(os.path.join(repo, "index", n)) for n in names)))
