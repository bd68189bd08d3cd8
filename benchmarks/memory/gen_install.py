#!/usr/bin/python3
"""benchmarks/memory/gen_install.py — a MAESTRO install of FILES files and about
TOTAL_BYTES bytes for the memory benchmark (issue 14 point 2).

The skeleton (main and ai databases, a small ChromaDB store) is made by
`maestro-db demo create` beforehand (run.sh); this adds, under the install's
markdown, metadata and raw_pdfs folders:
  - FILES small files (Markdown and JSON, 0.5-4 KiB of text each, 500 to a
    folder), each with its own content, written one write() per file;
  - the remaining bytes as few big incompressible files (256 MiB each; the
    last one shorter), written 4 MiB at a time from os.urandom.
Usage: gen_install.py ROOT FILES TOTAL_BYTES [SEED]
Stock python3 only.
"""
import os
import random
import sys

BIG = 256 << 20
BLOCK = 4 << 20
PER_DIR = 500


def small_files(root, files, rng):
    """Writes the small files; returns their bytes."""
    base = ("results of the model on the dataset were compared with the baseline; "
            "the retrieval step uses the vector index and the trigram text index.\n") * 64
    total = 0
    for i in range(files):
        store = "markdown" if i % 3 else "metadata"
        d = os.path.join(root, "ai_researcher/data/processed", store, "bench", "d%04d" % (i // PER_DIR))
        if i % PER_DIR == 0 or not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
        n = rng.randint(512, 4096)
        body = ("document %d seed %d\n" % (i, rng.getrandbits(48))) + base[:n]
        name = "f%07d.%s" % (i, "md" if store == "markdown" else "json")
        with open(os.path.join(d, name), "w") as f:
            f.write(body)
        total += len(body)
    return total


def big_files(root, nbytes):
    d = os.path.join(root, "ai_researcher/data/raw_pdfs/bench")
    os.makedirs(d, exist_ok=True)
    i = 0
    while nbytes > 0:
        size = min(BIG, nbytes)
        with open(os.path.join(d, "big%03d.pdf" % i), "wb") as f:
            left = size
            while left > 0:
                n = min(BLOCK, left)
                f.write(os.urandom(n))
                left -= n
        nbytes -= size
        i += 1
    return i


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    root, files, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    small = small_files(root, files, rng)
    nbig = big_files(root, max(0, total - small))
    print("small files: %d (%d bytes); big files: %d (%d bytes)" % (files, small, nbig, max(0, total - small)))


if __name__ == "__main__":
    main()
