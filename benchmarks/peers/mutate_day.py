#!/usr/bin/python3
"""benchmarks/peers/mutate_day.py — one simulated day of MAESTRO activity.

Deterministic for (ROOT contents, DAY): every tool in the benchmark sees the
same change. Touches about FRACTION of the install's bytes (default 0.01):
  - new documents: a raw PDF, its markdown and metadata JSON, a `documents`
    row in main, a `processed_documents` row in ai, chunks (rows in
    embeddings / embedding_metadata / the FTS index / embeddings_queue) in
    chroma.sqlite3 and records appended to the HNSW files of each segment;
  - changed rows in main: ~1% of documents get a new updated_at / metadata,
    new chats and messages.
Works on a tree made by `maestro-db demo create` or by gen_demo.py (it reads
table columns before writing and skips what a schema lacks).

Usage: mutate_day.py ROOT DAY [FRACTION]
"""
import os
import random
import sqlite3
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_demo  # noqa: E402


def tree_bytes(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)


def main():
    root, day = sys.argv[1], int(sys.argv[2])
    fraction = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
    rng = random.Random(1000 + day)
    paths = gen_demo.store_paths(root)
    budget = int(tree_bytes(root) * fraction)
    main_db, ai_db = sqlite3.connect(paths["main"]), sqlite3.connect(paths["ai"])
    chroma = gen_demo.Chroma(paths["vector"])
    users = [r[0] for r in main_db.execute("SELECT id FROM users")] or [1]
    added, ndocs = 0, 0
    # New documents take ~85% of the budget; a small day still adds one small document.
    while added < budget * 0.85:
        added += gen_demo.add_document(rng, root, paths, main_db, ai_db, chroma, rng.choice(users), day=day)
        added += 700 << 10  # markdown + chunks + HNSW records, roughly, per document
        ndocs += 1
        if budget < (1 << 20):
            break
    # Changed rows: ~1% of documents updated, chats and messages added.
    ids = [r[0] for r in main_db.execute("SELECT id FROM documents ORDER BY id")]
    for doc_id in rng.sample(ids, max(1, len(ids) // 100)):
        main_db.execute("UPDATE documents SET updated_at = ?, upload_progress = 100 WHERE id = ?",
                        (gen_demo.iso(rng, day), doc_id))
    chat_cols = {r[1] for r in main_db.execute("PRAGMA table_info(chats)")}
    if chat_cols:
        for _ in range(5):
            cid = str(uuid.UUID(int=rng.getrandbits(128)))
            main_db.execute("INSERT INTO chats (id, user_id, title, created_at, updated_at) VALUES (?,?,?,?,?)",
                            (cid, rng.choice(users), gen_demo.text(rng, 40), gen_demo.iso(rng, day), gen_demo.iso(rng, day)))
            main_db.executemany("INSERT INTO messages (id, chat_id, content, role, created_at) VALUES (?,?,?,?,?)",
                                [(str(uuid.UUID(int=rng.getrandbits(128))), cid, gen_demo.text(rng, 600), r,
                                  gen_demo.iso(rng, day)) for r in ("user", "assistant") * 6])
    chroma.commit()
    main_db.commit()
    ai_db.commit()
    for db in (main_db, ai_db, chroma.db):
        db.close()
    print(f"mutate_day: day {day}: {ndocs} new documents, ~{added >> 10} KiB added (budget {budget >> 10} KiB)")


if __name__ == "__main__":
    main()
